//! HTTP/1.1: accepting connections, reading bodies within limits and time, and answering
//! with the headers AWS services send. Whatever a client sends, it gets a response (or its
//! connection is closed) and the server lives on. What a request means is decided by the
//! responder [`serve`] is given.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::error::ApiError;

/// How long a client may take to send its headers, and then its body.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// An oversized body is read and discarded up to this size before the 413 is sent, so the
/// client sees the answer instead of a connection reset.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

pub type HttpResponse = Response<Full<Bytes>>;

/// Accepts connections until `shutdown` changes or its sender is dropped, answering every
/// request with `respond`.
pub async fn serve<R, F>(listener: TcpListener, respond: R, mut shutdown: watch::Receiver<bool>)
where
    R: Fn(Request<Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, respond.clone()));
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

async fn serve_connection<R, F>(stream: TcpStream, respond: R)
where
    R: Fn(Request<Incoming>) -> F + Send + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    // Small request/response pairs: do not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let answer = respond(request);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(err) = connection.await {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?;
    let text = value.to_str().unwrap_or("<not text>");
    Some(
        text.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
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

/// A response with the headers every AWS answer carries: its content type and a request
/// id.
pub fn response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert(HeaderName::from_static("x-amzn-requestid"), id);
    }
    response
}

/// A JSON response (rest-json answers and the admin API).
pub fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    response(status, "application/json", body)
}

/// The status an error answers with.
pub fn status_of(err: &ApiError) -> StatusCode {
    StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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

    #[test]
    fn request_ids_are_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }

    #[test]
    fn media_types_drop_parameters() {
        let headers = test_headers(&[("content-type", "Application/JSON; charset=utf-8")]);
        assert_eq!(media_type(&headers).as_deref(), Some("application/json"));
        assert_eq!(media_type(&HeaderMap::new()), None);
    }
}
