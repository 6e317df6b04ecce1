//! The custom resources of `kvs-operator.dev/v1alpha1`.
//!
//! Every constraint KVS puts on an input is expressed in the generated CRD schemas (OpenAPI
//! patterns, lengths, ranges and CEL rules), so the API server refuses a bad manifest at
//! `kubectl apply` time instead of the operator discovering it at AWS.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSON,
};

mod account_binding;
mod export;
mod marks;
mod signaling_channel;
mod string_map;
mod video_stream;

pub use account_binding::{AccountBinding, AccountBindingSpec, AccountBindingStatus, Adoption};
pub use export::{DELETION_PROTECTION_ANNOTATION, ExportTo, is_deletion_protected};
pub use marks::{CachedMarks, Mark, Marked};
pub use signaling_channel::{
    ChannelEndpoints, DEFAULT_MESSAGE_TTL_SECONDS, MediaStorage, MediaStorageStatus, RoleEndpoints,
    SignalingChannel, SignalingChannelSpec, SignalingChannelStatus,
};
pub use string_map::StringMap;
pub use video_stream::{
    ConfigurationStatus, DeletionPolicy, ImageFormat, ImageGeneration, ImageSelectorType,
    Notification, StorageTier, VideoStream, VideoStreamSpec, VideoStreamStatus,
};

/// API group of every kind this operator serves.
pub const GROUP: &str = "kvs-operator.dev";

/// Tag that marks a stream as managed by one VideoStream; its value is `<namespace>/<name>`.
pub const OWNER_TAG: &str = "kvs-operator.dev/owner";

/// Tag that names the cluster whose VideoStream owns the stream (`--cluster-id`). A stream
/// is ours only when both this and [`OWNER_TAG`] match, so two clusters sharing an account
/// never take each other's streams for their own.
pub const CLUSTER_TAG: &str = "kvs-operator.dev/cluster";

/// Tag keys under these prefixes are reserved: AWS owns `aws:`, the operator owns its own.
pub const RESERVED_TAG_PREFIXES: [&str; 2] = ["aws:", "kvs-operator.dev/"];

/// AWS allows 50 tags per stream; the operator's owner and cluster tags take two of them.
pub const MAX_USER_TAGS: usize = 48;

/// Longest `metadata.name` allowed, so `<namespace>/<name>` fits the 256-character tag value.
pub const MAX_RESOURCE_NAME: usize = 192;

/// The annotation that pauses an object: `"true"` stops every AWS call for it (Synced
/// becomes False with reason `Paused`) until it is removed or set to anything else.
pub const PAUSED_ANNOTATION: &str = "kvs-operator.dev/paused";

/// The annotation that records, before anything is created, the AWS account and region an
/// object's resource is created in (`<account>/<region>`). A create whose answer was lost
/// (a crash) leaves a resource there that the status does not name yet: the operator never
/// creates the object's resource anywhere else while the annotation says so. It is only
/// ever used to refuse, never to choose an identity, so a tenant who edits it can only stop
/// their own object.
pub const ACCOUNT_ANNOTATION: &str = "kvs-operator.dev/account";

/// The label that says which shard's holder watches an object.
pub const SHARD_LABEL: &str = "kvs-operator.dev/shard";

/// Where an object's AWS resource was made or taken, recorded in its status — which only
/// the operator writes — so that what it owns keeps being reconciled, and can always be
/// cleaned up, with the identity it was placed with, whatever AccountBindings do later.
#[derive(
    serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStatus {
    /// The AccountBinding whose identity manages the resource; absent: the operator's own
    /// identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_binding: Option<String>,
    /// The AWS account the resource lives in.
    pub account: String,
    /// The AWS region the resource lives in.
    pub region: String,
}

/// The annotation that asks for a full reconcile now, in Flux's convention: any new value
/// (a timestamp, say) makes the next reconcile read everything fresh from AWS (tags,
/// configurations, ownership) and repair what drifted; the status echoes the value handled
/// in `lastHandledReconcileAt`. The same value again does nothing.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "kvs-operator.dev/reconcile-requested-at";

/// The value of the reconcile-request annotation, if set.
pub fn reconcile_request(object: &impl Marked) -> Option<&str> {
    object.mark(Mark::ReconcileRequest)
}

/// Whose tags the operator removes.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    schemars::JsonSchema,
)]
pub enum TagPolicy {
    /// Tags written by others (a FinOps tagger, a tag policy, a scanner) are left alone:
    /// only keys the operator applied from the spec, and that have left it, are removed
    /// (`status.managedTagKeys`). Keys in the spec keep the spec's value.
    #[default]
    Shared,
    /// The spec is the whole truth: every key not in it (but `aws:` and the operator's
    /// own) is removed.
    Exclusive,
}

impl TagPolicy {
    pub fn is_shared(&self) -> bool {
        *self == TagPolicy::Shared
    }
}

/// How far the operator manages an object's AWS resource.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Default,
    schemars::JsonSchema,
)]
pub enum ManagementPolicy {
    /// Create, update and delete it to match the spec.
    #[default]
    Full,
    /// Only fill the status from AWS: nothing is ever created, changed or deleted, and no
    /// owner tag is needed. The safe way to watch a resource someone else owns.
    ObserveOnly,
}

impl ManagementPolicy {
    pub fn is_full(&self) -> bool {
        *self == ManagementPolicy::Full
    }
}

/// Whether `object` carries the pause annotation, set to `"true"`.
pub fn is_paused(object: &impl Marked) -> bool {
    object.mark(Mark::Paused) == Some("true")
}

/// Every CRD this operator serves, as `(file name in crds/, YAML document)`. Each document
/// starts with `---`, so the files concatenated in name order are what `kvs-operator crd`
/// prints.
pub fn crds() -> crate::Result<Vec<(String, String)>> {
    use kube::CustomResourceExt;
    let crds = [
        AccountBinding::crd(),
        unreconciled_status_default(SignalingChannel::crd()),
        unreconciled_status_default(VideoStream::crd()),
    ];
    crds.iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let yaml = serde_yaml_ng::to_string(crd)
                .map_err(|e| crate::Error::Config(format!("cannot render the CRD {name}: {e}")))?;
            Ok((format!("{name}.yaml"), format!("---\n{yaml}")))
        })
        .collect()
}

/// Gives the status a default, `{observedGeneration: 0}`, which the API server serves for
/// every object the operator has not written a status to yet (defaults apply when an object
/// is read back, so this holds for objects created before the CRD had it too). With no
/// status at all, kstatus (Flux, kpt) takes an object as Current; with an observedGeneration
/// behind its generation it is InProgress, which is the truth while the object waits for its
/// first reconcile or for its turn at the CreateStream quota. Argo CD's health script reads
/// either as Progressing.
fn unreconciled_status_default(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        let status = version
            .schema
            .as_mut()
            .and_then(|schema| schema.open_api_v3_schema.as_mut())
            .and_then(|root| root.properties.as_mut())
            .and_then(|properties| properties.get_mut("status"));
        if let Some(status) = status {
            status.default = Some(JSON(serde_json::json!({ "observedGeneration": 0 })));
        }
    }
    crd
}

/// Every CRD as one YAML stream, exactly as `kvs-operator crd` prints it.
pub fn crd_yaml() -> crate::Result<String> {
    Ok(crds()?.into_iter().map(|(_, yaml)| yaml).collect())
}

/// Tags as a map with AWS's key and value alphabets and limits. Key rules are CEL because a
/// structural schema cannot constrain map keys.
pub(crate) fn tags_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": MAX_USER_TAGS,
        "additionalProperties": {
            "type": "string",
            "maxLength": 256,
            "pattern": r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$"
        },
        "x-kubernetes-validations": [
            {
                "rule": "self.all(k, size(k) >= 1 && size(k) <= 128)",
                "message": "tag keys must be 1 to 128 characters"
            },
            {
                "rule": r"self.all(k, k.matches('^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*$'))",
                "message": "tag keys may contain only letters, digits, spaces and _ . : / = + - @"
            },
            {
                "rule": "self.all(k, !k.startsWith('aws:') && !k.startsWith('kvs-operator.dev/'))",
                "message": "tag keys must not start with the reserved prefixes aws: or kvs-operator.dev/"
            }
        ]
    })
}
