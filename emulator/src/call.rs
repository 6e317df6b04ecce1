//! One API call from request to answer: the signature, the caller's identity and scope
//! (account from the credentials, region from the SigV4 scope), then the operation in
//! that scope's state, counted there and written to the call log.

use std::sync::Arc;
use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::Value;

use crate::auth::{self, Signature};
use crate::config::Settings;
use crate::error::{ApiError, Protocol};
use crate::handlers::{self, Context};
use crate::http::{check_content_type, is_form, parse_json_object, read_body};
use crate::identity::Caller;
use crate::log::NewRecord;
use crate::operation::Operation;
use crate::resource::{Kind, Resource, addressed};
use crate::rules::partition_of;
use crate::scope::{Scope, Tenant};
use crate::state::{Shared, lock};
use crate::sts::{self, Params};

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
        let err = ApiError::identity(protocol, &refused);
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
    fn finish(
        &self,
        tenant: &mut Tenant,
        caller: &Caller,
        target: Target,
        error: Option<&'static str>,
    ) {
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
    // Unsigned requests are refused before they are routed, as AWS does.
    let signature = auth::signature(request.headers(), request.uri().query())
        .map_err(|err| ApiError::auth(Protocol::RestJson, err))?;
    let op = Some(request.method())
        .filter(|method| *method == Method::POST)
        .and_then(|_| Operation::from_path(request.uri().path()))
        .ok_or_else(|| {
            ApiError::unknown_operation(request.method().as_str(), request.uri().path())
        })?;
    let call = Call {
        shared,
        settings: shared.settings(),
        op,
        signature,
    };
    let caller = call.identify(Protocol::RestJson)?;
    let input = read_json(shared, request).await;
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
    call.finish(
        &mut tenant,
        &caller,
        target,
        outcome.as_ref().err().map(|e| e.code),
    );
    outcome
}

async fn read_json(shared: &Shared, request: Request<Incoming>) -> Result<Value, ApiError> {
    check_content_type(request.headers())?;
    let body = read_body(request.into_body(), shared.max_body_bytes).await?;
    parse_json_object(&body)
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
        store: &mut tenant.store,
        channels: &mut tenant.channels,
        settings,
        now,
    };
    handlers::dispatch(call.op, input, ctx)
}

/// A role with `name_prefixes` may only address streams and channels with those
/// prefixes, as an IAM policy on `stream/<prefix>*` and `channel/<prefix>*` allows.
/// Calls that address no resource (the listings) are not restricted: IAM cannot
/// restrict them to resources either.
fn check_access(
    call: &Call<'_>,
    caller: &Caller,
    resource: Option<Resource<'_>>,
) -> Result<(), ApiError> {
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
    let op = call.op;
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
    let signature = auth::signature(request.headers(), request.uri().query())
        .map_err(|err| ApiError::auth(Protocol::Query, err))?;
    let form = is_form(request.headers());
    let query = request.uri().query().map(str::to_owned);
    let body = read_body(request.into_body(), shared.max_body_bytes).await?;
    let params = Params::parse(query.as_deref(), if form { &body } else { &[] });
    let call = Call {
        shared,
        settings: shared.settings(),
        op: params.operation()?,
        signature,
    };
    let caller = call.identify(Protocol::Query)?;
    let tenant = shared.tenants.get_or_create(&call.scope(&caller));
    let mut tenant = lock(&tenant);
    let now = Instant::now();
    let outcome = tenant
        .limiter
        .admit(&call.settings.quotas, call.op, None, now)
        .map_err(|_| ApiError::throttling())
        .and_then(|()| match call.op {
            Operation::AssumeRole => sts::assume_role(
                &params,
                &caller,
                &call.settings,
                &mut lock(&shared.sessions),
                now,
            ),
            _ => Ok(sts::get_caller_identity(&caller)),
        });
    let target = Target {
        role_arn: (call.op == Operation::AssumeRole)
            .then(|| params.get("RoleArn").map(str::to_owned))
            .flatten(),
        ..Target::default()
    };
    call.finish(
        &mut tenant,
        &caller,
        target,
        outcome.as_ref().err().map(|e| e.code),
    );
    outcome
}
