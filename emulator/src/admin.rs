//! Admin endpoints under `/_emulator` (a path no KVS operation can have): call counters,
//! a dump of every stream with its tags, and runtime settings. JSON in and out, no
//! authentication, never counted as API calls.
//!
//! | method and path             | effect                                              |
//! |-----------------------------|-----------------------------------------------------|
//! | `GET /_emulator/health`     | `{"status":"ok","region":…,"account_id":…}`         |
//! | `GET /_emulator/calls`      | counters per operation: `total`, `succeeded`, `errors` by type |
//! | `DELETE /_emulator/calls`   | resets the counters                                 |
//! | `GET /_emulator/streams`    | `{"streams":[…]}`: every stream with tags and tier  |
//! | `DELETE /_emulator/streams` | forgets every stream                                |
//! | `GET /_emulator/config`     | the runtime settings                                |
//! | `PUT /_emulator/config`     | a JSON merge patch of the settings; answers the new settings |

use std::time::Instant;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::http::{HttpResponse, json_response, read_body};
use crate::state::{Shared, lock};

/// Path prefix of every admin endpoint.
pub const PREFIX: &str = "/_emulator";

pub async fn respond(shared: &Shared, request: Request<Incoming>) -> HttpResponse {
    let method = request.method().clone();
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let Some(resource) = path.strip_prefix(PREFIX) else {
        return not_found(&method, &path);
    };
    match (&method, resource) {
        (&Method::GET, "/health") => ok(&json!({
            "status": "ok",
            "region": shared.region,
            "account_id": shared.account_id,
        })),
        (&Method::GET, "/calls") => ok(&lock(&shared.counters).snapshot()),
        (&Method::DELETE, "/calls") => {
            lock(&shared.counters).reset();
            ok(&json!({}))
        }
        (&Method::GET, "/streams") => {
            let mut store = lock(&shared.store);
            store.settle(Instant::now());
            ok(&json!({ "streams": store.snapshots() }))
        }
        (&Method::DELETE, "/streams") => {
            lock(&shared.store).clear();
            ok(&json!({}))
        }
        (&Method::GET, "/config") => ok(&*shared.settings()),
        (&Method::PUT, "/config") => update_settings(shared, request).await,
        _ => not_found(&method, &path),
    }
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
