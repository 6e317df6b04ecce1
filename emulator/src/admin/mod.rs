//! Admin endpoints under `/_emulator` (a path no KVS operation can have): call counters,
//! the call log, a dump of every stream with its tags, and runtime settings. JSON in and
//! out, no authentication, never counted as API calls. `?account=…&region=…` selects a
//! scope; either defaults to the emulator's own.
//!
//! | method and path             | effect                                              |
//! |-----------------------------|-----------------------------------------------------|
//! | `GET /_emulator/health`     | `{"status":"ok","region":…,"account_id":…}`         |
//! | `GET /_emulator/scopes`     | `{"scopes":[{"account","region","streams","channels","calls"}]}`: scopes with state |
//! | `GET /_emulator/calls`      | a scope's counters per operation: `total`, `succeeded`, `errors` by type |
//! | `DELETE /_emulator/calls`   | resets every scope's counters and the call log      |
//! | `GET /_emulator/log`        | `{"records":[…],"dropped":N}`; `?since=SEQ` for newer records only |
//! | `GET /_emulator/streams`    | `{"streams":[…]}`: a scope's streams with tags and tier |
//! | `DELETE /_emulator/streams` | forgets the streams of the scope named, or of every scope |
//! | `GET /_emulator/channels`   | `{"channels":[…]}`: a scope's signaling channels    |
//! | `DELETE /_emulator/channels` | forgets the channels of the scope named, or of every scope |
//! | `GET /_emulator/config`     | the runtime settings                                |
//! | `PUT /_emulator/config`     | a JSON merge patch of the settings; answers the new settings |

use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::state::lock::lock;
use crate::state::shared::Shared;
use crate::state::tenants::{Scope, Tenant};
use crate::wire::http::{HttpResponse, json_response, read_body};

/// Path prefix of every admin endpoint.
pub const PREFIX: &str = "/_emulator";

pub async fn respond(shared: &Shared, request: Request<Incoming>) -> HttpResponse {
    let method = request.method().clone();
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let Some(resource) = path.strip_prefix(PREFIX) else {
        return not_found(&method, &path);
    };
    let query = Query::parse(request.uri().query());
    let scope = query.scope(&shared.default_scope);
    match (&method, resource) {
        (&Method::GET, "/health") => ok(&json!({
            "status": "ok",
            "region": shared.default_scope.region,
            "account_id": shared.default_scope.account,
        })),
        (&Method::GET, "/scopes") => ok(&json!({ "scopes": scopes(shared) })),
        (&Method::GET, "/calls") => {
            let counts = with_tenant(shared, &scope, |t| t.counters.snapshot());
            ok(&counts.unwrap_or_default())
        }
        (&Method::DELETE, "/calls") => {
            shared.reset_calls();
            ok(&json!({}))
        }
        (&Method::GET, "/log") => {
            let Ok(since) = query.get("since").unwrap_or("0").parse::<u64>() else {
                return failure(StatusCode::BAD_REQUEST, "since must be a sequence number");
            };
            let log = lock(&shared.log);
            ok(&json!({ "records": log.since(since), "dropped": log.dropped() }))
        }
        (&Method::GET, "/streams") => {
            let streams = with_tenant(shared, &scope, |tenant| {
                tenant.streams.settle(Instant::now());
                tenant.streams.snapshots()
            });
            ok(&json!({ "streams": streams.unwrap_or_default() }))
        }
        (&Method::DELETE, "/streams") => {
            if query.names_scope() {
                with_tenant(shared, &scope, |tenant| tenant.streams.clear());
            } else {
                shared.tenants.for_each(|tenant| tenant.streams.clear());
            }
            ok(&json!({}))
        }
        (&Method::GET, "/channels") => {
            let channels = with_tenant(shared, &scope, |tenant| {
                tenant.channels.settle(Instant::now());
                tenant.channels.snapshots()
            });
            ok(&json!({ "channels": channels.unwrap_or_default() }))
        }
        (&Method::DELETE, "/channels") => {
            if query.names_scope() {
                with_tenant(shared, &scope, |tenant| tenant.channels.clear());
            } else {
                shared.tenants.for_each(|tenant| tenant.channels.clear());
            }
            ok(&json!({}))
        }
        (&Method::GET, "/config") => ok(&*shared.settings()),
        (&Method::PUT, "/config") => update_settings(shared, request).await,
        _ => not_found(&method, &path),
    }
}

/// The admin query string: `account`, `region`, `since`.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn names_scope(&self) -> bool {
        self.get("account").is_some() || self.get("region").is_some()
    }

    fn scope(&self, default: &Scope) -> Scope {
        Scope::new(
            self.get("account").unwrap_or(&default.account),
            self.get("region").unwrap_or(&default.region),
        )
    }
}

fn with_tenant<T>(shared: &Shared, scope: &Scope, f: impl FnOnce(&mut Tenant) -> T) -> Option<T> {
    let tenant = shared.tenants.get(scope)?;
    let mut tenant = lock(&tenant);
    Some(f(&mut tenant))
}

fn scopes(shared: &Shared) -> Vec<serde_json::Value> {
    shared
        .tenants
        .all()
        .into_iter()
        .filter_map(|(scope, tenant)| {
            let tenant = lock(&tenant);
            tenant.has_state().then(|| {
                json!({
                    "account": scope.account,
                    "region": scope.region,
                    "streams": tenant.streams.len(),
                    "channels": tenant.channels.len(),
                    "calls": tenant.counters.total(),
                })
            })
        })
        .collect()
}

async fn update_settings(shared: &Shared, request: Request<Incoming>) -> HttpResponse {
    let body = match read_body(request.into_body(), shared.max_body_bytes).await {
        Ok(body) => body,
        Err(err) => return failure(StatusCode::BAD_REQUEST, &err.message),
    };
    let patch: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(err) => return failure(StatusCode::BAD_REQUEST, &format!("not JSON: {err}")),
    };
    let applied = shared
        .settings()
        .merged(&patch)
        .and_then(|settings| shared.set_settings(settings));
    match applied {
        Ok(()) => ok(&*shared.settings()),
        Err(err) => failure(StatusCode::BAD_REQUEST, &err.to_string()),
    }
}

fn ok<T: Serialize + ?Sized>(value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(err) => failure(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

fn not_found(method: &Method, path: &str) -> HttpResponse {
    failure(
        StatusCode::NOT_FOUND,
        &format!("no admin endpoint at {method} {path}"),
    )
}

fn failure(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::to_vec(&json!({ "message": message })).unwrap_or_default();
    json_response(status, body)
}
