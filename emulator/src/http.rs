//! The HTTP front door: connections, routing, authentication, body limits, and AWS-shaped
//! responses. Whatever a client sends, it gets a response and the state stays intact.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::ApiError;
use crate::state::Shared;
use crate::{admin, call};

/// How long a client may take to send its headers, and then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// An oversized body is read and discarded up to this size before the 413 is sent, so the
/// client sees the answer instead of a connection reset.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub type HttpResponse = Response<Full<Bytes>>;

/// Accepts connections until `shutdown` changes or its sender is dropped.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(err) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // Small request/response pairs: do not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&shared, request).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(err) = connection.await {
        tracing::debug!(%err, "connection ended with an error");
    }
}

async fn respond(shared: &Shared, request: Request<Incoming>) -> HttpResponse {
    let path = request.uri().path();
    let admin_path = path
        .strip_prefix(admin::PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if admin_path {
        return admin::respond(shared, request).await;
    }
    let method = request.method().clone();
    let path = path.to_owned();
    // STS (query protocol) is served on `/`, where no KVS operation lives.
    let response = if path == "/" {
        match call::sts(shared, request).await {
            Ok(body) => xml_response(StatusCode::OK, body),
            Err(err) => sts_error_response(&err),
        }
    } else {
        match call::kvs(shared, request).await {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(err) => error_response(&err),
        }
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), "api call");
    response
}

/// The SDKs send `application/json`; a missing type is tolerated, another one is not.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("<not text>");
    let media_type = media_type(text);
    let json = media_type.is_empty()
        || media_type == "application/json"
        || media_type.starts_with("application/x-amz-json-");
    if json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(text))
    }
}

/// Whether the body is a form (`application/x-www-form-urlencoded`), as the query
/// protocol sends its parameters.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|text| media_type(text) == "application/x-www-form-urlencoded")
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Reads the whole body, refusing more than `limit` bytes and clients that stall.
pub async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    let declared = body.size_hint().exact();
    if declared.is_some_and(|len| len > limit as u64) {
        drain(body).await;
        return Err(ApiError::request_too_large(limit));
    }
    let collected = tokio::time::timeout(READ_TIMEOUT, Limited::new(body, limit).collect()).await;
    match collected {
        Err(_) => Err(ApiError::request_timeout()),
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::request_too_large(limit))
        }
        Ok(Err(err)) => Err(ApiError::serialization(format!(
            "The request body could not be read: {err}"
        ))),
    }
}

async fn drain(mut body: Incoming) {
    let mut seen = 0usize;
    let _ = tokio::time::timeout(READ_TIMEOUT, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
}

/// An empty body means an input with no members, as botocore may send.
pub fn parse_json_object(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ApiError::serialization(
            "The request body must be a JSON object.",
        )),
        Err(err) => Err(ApiError::serialization(format!(
            "The request body is not valid JSON: {err}"
        ))),
    }
}

/// A JSON response with the headers AWS services send.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    response
}

/// The rest-json error shape: `x-amzn-ErrorType` names the exception, the body carries
/// the modelled `Message` (and `message`, which some clients read instead).
pub fn error_response(err: &ApiError) -> HttpResponse {
    let body = serde_json::json!({
        "__type": err.code,
        "Message": err.message,
        "message": err.message,
    });
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, serde_json::to_vec(&body).unwrap_or_default());
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(err.code),
    );
    response
}

/// An XML answer of the query protocol.
pub fn xml_response(status: StatusCode, body: String) -> HttpResponse {
    let mut response = json_response(status, body.into_bytes());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

/// The query protocol's error: an XML `ErrorResponse` with the model's status.
pub fn sts_error_response(err: &ApiError) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    xml_response(status, crate::sts::error_document(err))
}

/// A fresh request id, shaped like AWS's (a UUID).
pub fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bits = fastrand::u128(..);
    let mut id = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            id.push('-');
        }
        id.push(char::from(HEX[(bits & 0xf) as usize]));
        bits >>= 4;
    }
    id
}

/// Headers from static pairs, for unit tests.
#[cfg(test)]
pub fn test_headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        test_headers(pairs)
    }

    #[test]
    fn content_types() {
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        assert!(
            check_content_type(&headers(&[(
                "content-type",
                "application/json; charset=utf-8"
            )]))
            .is_ok()
        );
        assert!(
            check_content_type(&headers(&[("content-type", "application/x-amz-json-1.1")])).is_ok()
        );
        let err = check_content_type(&headers(&[("content-type", "text/xml")])).unwrap_err();
        assert_eq!(err.status, 415);
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_json_object(b"").unwrap(), serde_json::json!({}));
        assert!(parse_json_object(b"[1]").is_err());
        assert!(parse_json_object(b"{\"a\":").is_err());
        let id = request_id();
        assert_eq!(id.len(), 36);
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
