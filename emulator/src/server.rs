//! The front door: every request goes to the admin API (`/_emulator…`), to STS (the query
//! protocol on `/`, where no KVS operation lives) or to KVS (rest-json, one path per
//! operation), and comes back in that protocol's shape.

use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;

use crate::admin;
use crate::services::{call, sts};
use crate::state::shared::Shared;
use crate::wire::http::HttpResponse;
use crate::wire::{query, rest_json};

/// Answers one request.
pub async fn respond(shared: Arc<Shared>, request: Request<Incoming>) -> HttpResponse {
    let path = request.uri().path();
    let admin_path = path
        .strip_prefix(admin::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if admin_path {
        return admin::respond(&shared, request).await;
    }
    let method = request.method().clone();
    let path = path.to_owned();
    let response = if path == "/" {
        match call::sts(&shared, request).await {
            Ok(document) => query::ok_response(document),
            Err(err) => query::error_response(sts::NAMESPACE, &err),
        }
    } else {
        match call::kvs(&shared, request).await {
            Ok(body) => rest_json::ok_response(body),
            Err(err) => rest_json::error_response(&err),
        }
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), "api call");
    response
}
