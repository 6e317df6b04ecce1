//! One API call from request to answer: the signature, the caller's identity and scope
//! (account from the credentials, region from the SigV4 scope), then permissions,
//! injected faults and quotas, then the operation in that scope's state, counted there
//! and written to the call log.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request};
use serde_json::Value;

use super::handler::Context;
use super::sts::{self, StsContext};
use crate::model::arn::{arn_parts, partition_of};
use crate::model::config::Settings;
use crate::model::operation::{Addresses, Operation};
use crate::model::resource::{Kind, Resource};
use crate::state::lock::lock;
use crate::state::log::NewRecord;
use crate::state::sessions::{Caller, IdentityError};
use crate::state::shared::Shared;
use crate::state::tenants::{Scope, Tenant};
use crate::wire::error::{ApiError, Protocol};
use crate::wire::http::read_body;
use crate::wire::query::{Params, is_form};
use crate::wire::rest_json::{check_content_type, parse_object};
use crate::wire::signing::{self, Signed};
use crate::wire::sigv4::{self, Signature};

/// What is known about a call once its operation is.
struct Call<'a> {
    shared: &'a Shared,
    settings: Arc<Settings>,
    op: Operation,
    signature: Signature,
}

/// What a call addressed, for the log.
#[derive(Default)]
struct Target {
    stream: Option<String>,
    channel: Option<String>,
    role_arn: Option<String>,
}

impl Target {
    fn of(resource: Option<Resource<'_>>) -> Target {
        let name = |kind| {
            resource
                .filter(|r| r.kind == kind)
                .map(|r| r.name.to_owned())
        };
        Target {
            stream: name(Kind::Stream),
            channel: name(Kind::Channel),
            role_arn: None,
        }
    }
}

/// Refused credentials as `protocol` answers them.
fn refusal(protocol: Protocol, refused: &IdentityError) -> ApiError {
    match refused {
        IdentityError::Unrecognized => ApiError::unrecognized_client(protocol),
        IdentityError::Expired { .. } => ApiError::expired_token(protocol),
    }
}

impl Call<'_> {
    /// The caller, or the answer for refused credentials (counted in the session's
    /// scope when its account is known, and logged).
    fn identify(&self, protocol: Protocol) -> Result<Caller, ApiError> {
        let refused = match self
            .shared
            .identify(&self.signature, &self.settings, Instant::now())
        {
            Ok(caller) => return Ok(caller),
            Err(refused) => refused,
        };
        let err = refusal(protocol, &refused);
        if let Some(account) = refused.account() {
            let scope = Scope::new(account, &self.signature.region);
            let tenant = self.shared.tenants.get_or_create(&scope);
            lock(&tenant).counters.record(self.op, Some(err.code));
        }
        self.log(refused.account(), Target::default(), Some(err.code));
        Err(err)
    }

    /// The scope the caller acts in.
    fn scope(&self, caller: &Caller) -> Scope {
        Scope::new(&caller.account, &self.signature.region)
    }

    /// Counts the outcome in the scope's counters and logs it. Called with the scope's
    /// lock held, so the log orders the calls of one scope as they took effect.
    fn finish<T>(
        &self,
        tenant: &mut Tenant,
        caller: &Caller,
        target: Target,
        outcome: &Result<T, ApiError>,
    ) {
        let error = outcome.as_ref().err().map(|e| e.code);
        tenant.counters.record(self.op, error);
        self.log(Some(&caller.account), target, error);
    }

    fn log(&self, account: Option<&str>, target: Target, error: Option<&'static str>) {
        self.shared.log_call(
            &self.settings,
            NewRecord {
                operation: self.op,
                account: account.map(str::to_owned),
                region: self.signature.region.clone(),
                access_key_id: self.signature.access_key_id.clone(),
                stream: target.stream,
                channel: target.channel,
                role_arn: target.role_arn,
                error,
            },
        );
    }
}

/// A KVS call (rest-json): answers the JSON body of the operation's output.
pub async fn kvs(shared: &Shared, request: Request<Incoming>) -> Result<Vec<u8>, ApiError> {
    let (parts, body) = request.into_parts();
    // Unsigned requests are refused before they are routed, as AWS does.
    let signature = sigv4::signature(&parts.headers, parts.uri.query())
        .map_err(|err| ApiError::auth(Protocol::RestJson, err))?;
    let op = Some(&parts.method)
        .filter(|method| **method == Method::POST)
        .and_then(|_| Operation::from_path(parts.uri.path()))
        .ok_or_else(|| ApiError::unknown_operation(parts.method.as_str(), parts.uri.path()))?;
    let call = Call {
        shared,
        settings: shared.settings(),
        op,
        signature,
    };
    let caller = call.identify(Protocol::RestJson)?;
    let input = match check_content_type(&parts.headers) {
        Ok(()) => signed_body(&call, &caller, &parts, body, Protocol::RestJson)
            .await
            .and_then(|body| parse_object(&body)),
        Err(err) => Err(err),
    };
    let latency = call.settings.faults.latency;
    if input.is_ok() && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let tenant = shared.tenants.get_or_create(&call.scope(&caller));
    let mut tenant = lock(&tenant);
    let (outcome, target) = match input {
        Ok(input) => {
            let resource = addressed(op, &input);
            let outcome = run_kvs(&call, &mut tenant, &caller, &input, resource);
            (outcome, Target::of(resource))
        }
        Err(err) => (Err(err), Target::default()),
    };
    call.finish(&mut tenant, &caller, target, &outcome);
    outcome
}

/// The body of a request, within the size limit, once its signature holds for it (where
/// the caller's secret is known: sessions the emulator issued).
async fn signed_body(
    call: &Call<'_>,
    caller: &Caller,
    parts: &Parts,
    body: Incoming,
    protocol: Protocol,
) -> Result<Bytes, ApiError> {
    let body = read_body(body, call.shared.max_body_bytes).await?;
    check_signature(call, caller, parts, &body, protocol)?;
    Ok(body)
}

fn check_signature(
    call: &Call<'_>,
    caller: &Caller,
    parts: &Parts,
    body: &[u8],
    protocol: Protocol,
) -> Result<(), ApiError> {
    let (Some(secret), Some(proof)) = (&caller.secret_access_key, &call.signature.proof) else {
        return Ok(());
    };
    let request = Signed {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
    };
    if signing::verify(proof, secret, &request, body) {
        Ok(())
    } else {
        Err(ApiError::invalid_signature(protocol))
    }
}

/// The resource `op`'s input addresses: its name, or the name inside its ARN, for the
/// per-resource quota, permissions and the call log. Best effort: validation reports
/// malformed values later.
pub fn addressed(op: Operation, body: &Value) -> Option<Resource<'_>> {
    let text = |member: &str| body.get(member).and_then(Value::as_str);
    let by_name_or_arn = |kind: Kind| {
        let prefix = kind.member_prefix();
        let name = match text(&format!("{prefix}Name")) {
            Some(name) => name,
            None => arn_parts(text(&format!("{prefix}ARN"))?)?.1,
        };
        Some(Resource { kind, name })
    };
    match op.addresses() {
        Addresses::Nothing => None,
        Addresses::Stream => by_name_or_arn(Kind::Stream),
        Addresses::Channel => by_name_or_arn(Kind::Channel),
        Addresses::Resource => {
            let (resource_type, name) = arn_parts(text("ResourceARN")?)?;
            let kind = Kind::parse(resource_type)?;
            Some(Resource { kind, name })
        }
    }
}

/// Permissions, injected failures, quotas, then the operation itself.
fn run_kvs(
    call: &Call<'_>,
    tenant: &mut Tenant,
    caller: &Caller,
    input: &Value,
    resource: Option<Resource<'_>>,
) -> Result<Vec<u8>, ApiError> {
    let settings = &call.settings;
    check_access(call, caller, resource)?;
    if settings.faults.error_rate > 0.0 && fastrand::f64() < settings.faults.error_rate {
        return Err(ApiError::internal_failure());
    }
    let now = Instant::now();
    tenant
        .limiter
        .admit(&settings.quotas, call.op, resource, now)?;
    let ctx = Context {
        streams: &mut tenant.streams,
        channels: &mut tenant.channels,
        settings,
        now,
    };
    super::dispatch(call.op, input, ctx)
}

/// A role with `actions` may only call those operations; a role with `name_prefixes` may
/// only address streams and channels with those prefixes, as an IAM policy on
/// `stream/<prefix>*` and `channel/<prefix>*` allows. Calls that address no resource
/// (the listings) are not restricted by names: IAM cannot restrict them to resources
/// either.
fn check_access(
    call: &Call<'_>,
    caller: &Caller,
    resource: Option<Resource<'_>>,
) -> Result<(), ApiError> {
    let op = call.op;
    if !caller.may_call(&call.settings, op) {
        return Err(ApiError::access_denied(format!(
            "User: {} is not authorized to perform: kinesisvideo:{op} because no \
             identity-based policy allows the kinesisvideo:{op} action",
            caller.arn
        )));
    }
    let (Some(prefixes), Some(resource)) = (caller.name_prefixes(&call.settings), resource) else {
        return Ok(());
    };
    let name = resource.name;
    if prefixes
        .iter()
        .any(|prefix| name.starts_with(prefix.as_str()))
    {
        return Ok(());
    }
    let region = &call.signature.region;
    Err(ApiError::access_denied(format!(
        "User: {} is not authorized to perform: kinesisvideo:{op} on resource: \
         arn:{}:kinesisvideo:{region}:{}:{}/{name}/* because no identity-based policy \
         allows the kinesisvideo:{op} action",
        caller.arn,
        partition_of(region),
        caller.account,
        resource.kind.as_str(),
    )))
}

/// An STS call (query protocol): answers the XML document of the operation's output.
pub async fn sts(shared: &Shared, request: Request<Incoming>) -> Result<String, ApiError> {
    let (parts, body) = request.into_parts();
    let signature = sigv4::signature(&parts.headers, parts.uri.query())
        .map_err(|err| ApiError::auth(Protocol::Query, err))?;
    let form = is_form(&parts.headers);
    let body = read_body(body, shared.max_body_bytes).await?;
    let params = Params::parse(parts.uri.query(), if form { &body } else { &[] });
    let call = Call {
        shared,
        settings: shared.settings(),
        op: sts::operation(&params)?,
        signature,
    };
    let caller = call.identify(Protocol::Query)?;
    let tenant = shared.tenants.get_or_create(&call.scope(&caller));
    let mut tenant = lock(&tenant);
    let now = Instant::now();
    let outcome = check_signature(&call, &caller, &parts, &body, Protocol::Query)
        .and_then(|()| {
            let admitted = tenant
                .limiter
                .admit(&call.settings.quotas, call.op, None, now);
            admitted.map_err(|_| ApiError::throttling())
        })
        .and_then(|()| {
            let ctx = StsContext {
                caller: &caller,
                settings: &call.settings,
                sessions: &mut lock(&shared.sessions),
                now,
            };
            sts::dispatch(call.op, &params, ctx)
        });
    let target = Target {
        role_arn: (call.op == Operation::AssumeRole)
            .then(|| params.get("RoleArn").map(str::to_owned))
            .flatten(),
        ..Target::default()
    };
    call.finish(&mut tenant, &caller, target, &outcome);
    outcome
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_come_from_names_or_arns() {
        let stream = |name| {
            Some(Resource {
                kind: Kind::Stream,
                name,
            })
        };
        let channel = |name| {
            Some(Resource {
                kind: Kind::Channel,
                name,
            })
        };
        let by_name = json!({"StreamName": "cam"});
        assert_eq!(
            addressed(Operation::DescribeStream, &by_name),
            stream("cam")
        );
        let by_arn =
            json!({"StreamARN": "arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/1"});
        assert_eq!(addressed(Operation::DeleteStream, &by_arn), stream("cam"));
        let channel_arn =
            json!({"ChannelARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1"});
        assert_eq!(
            addressed(Operation::UpdateSignalingChannel, &channel_arn),
            channel("door")
        );
        let tagged =
            json!({"ResourceARN": "arn:aws:kinesisvideo:us-west-2:123456789012:channel/door/1"});
        assert_eq!(addressed(Operation::TagResource, &tagged), channel("door"));
        let other = json!({"ResourceARN": "arn:aws:kinesisvideo:us-west-2:1:thing/x/1"});
        assert_eq!(addressed(Operation::TagResource, &other), None);
        assert_eq!(addressed(Operation::ListStreams, &by_name), None);
        assert_eq!(addressed(Operation::DescribeStream, &json!({})), None);
    }
}
