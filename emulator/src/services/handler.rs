//! How a KVS operation runs, the same for every one: [`run`] decodes the JSON input, checks
//! it against the model's constraints ([`Input::validate`]), hands it with a [`Context`]
//! to the operation's handler, and returns the encoded output. A service lists its
//! operations as [`Route`]s, written with `route!`.

use std::time::Instant;

use serde_json::Value;

use super::validate::{Input, Violations};
use crate::model::config::Settings;
use crate::model::operation::Operation;
use crate::state::channels::Channels;
use crate::state::registry::CreateLimits;
use crate::state::streams::Streams;
use crate::wire::error::ApiError;
use crate::wire::rest_json;

/// One row of a service's table: an operation and its handler, which turns the JSON input
/// into the JSON output.
pub type Route = (
    Operation,
    fn(&Value, Context<'_>) -> Result<Vec<u8>, ApiError>,
);

/// A row of a table: `route!(CreateStream, create)` serves `CreateStream` with
/// `create(input, ctx)`, through [`run`].
macro_rules! route {
    ($op:ident, $handler:path) => {
        (crate::model::operation::Operation::$op, |body, ctx| {
            crate::services::handler::run(body, ctx, $handler)
        })
    };
}

/// Declares an input shape as the model does: each member with its Rust type, its name in
/// the model, whether it is `required` or `optional`, and its shape (the constraints
/// checked, see `validate`). Every member is optional when decoded, so that a missing
/// required one is reported by validation as AWS reports it, and unknown members are
/// ignored. Members are listed in every input, not flattened, so a type error can name
/// the member. A rule the model's shapes cannot state is a [`validate::Shape`] of its own
/// (e.g. `FormatConfig`) or the handler's.
///
/// [`validate::Shape`]: super::validate::Shape
macro_rules! input {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$field_meta:meta])* $field:ident: $ty:ty = $member:literal, $rule:ident $shape:expr;)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $($(#[$field_meta])* #[serde(rename = $member)] pub $field: Option<$ty>,)+
        }

        impl crate::services::validate::Input for $name {
            fn validate(&self, v: &mut crate::services::validate::Violations) {
                $(v.$rule($member, self.$field.as_ref(), &$shape);)+
            }
        }
    };
}

/// What a handler acts on besides its input: the scope's streams and channels, the
/// settings of this call, and its time.
pub struct Context<'a> {
    pub streams: &'a mut Streams,
    pub channels: &'a mut Channels,
    pub settings: &'a Settings,
    pub now: Instant,
}

impl Context<'_> {
    /// The limits a CreateStream obeys.
    pub fn stream_limits(&self) -> CreateLimits {
        CreateLimits {
            max: self.settings.limits.max_streams,
            allow_reserved_tags: self.allow_reserved_tags(),
        }
    }

    /// The limits a CreateSignalingChannel obeys.
    pub fn channel_limits(&self) -> CreateLimits {
        CreateLimits {
            max: self.settings.limits.max_channels,
            allow_reserved_tags: self.allow_reserved_tags(),
        }
    }

    /// Whether tag keys may start with `aws:`.
    pub fn allow_reserved_tags(&self) -> bool {
        self.settings.limits.allow_reserved_tag_keys
    }
}

/// Decodes `body` as `I`, validates it, and hands it to `apply`.
pub fn run<I: Input>(
    body: &Value,
    ctx: Context<'_>,
    apply: fn(I, Context<'_>) -> Result<Vec<u8>, ApiError>,
) -> Result<Vec<u8>, ApiError> {
    let input: I = rest_json::decode(body)?;
    let mut violations = Violations::new();
    input.validate(&mut violations);
    violations.finish()?;
    apply(input, ctx)
}
