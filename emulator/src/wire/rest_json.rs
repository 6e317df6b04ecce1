//! The rest-json protocol of KVS: a JSON object in (its members named as in the model),
//! a JSON document out, and errors as the `x-amzn-ErrorType` header with a `Message` body.
//!
//! Inputs are decoded loosely (every member optional, unknown members ignored, as AWS
//! does) so that a missing required member is reported by validation as the service
//! reports it; a member of the wrong JSON type is a `SerializationException` naming it.

use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ApiError;
use super::http::{HttpResponse, json_response, media_type, status_of};

/// The SDKs send `application/json`; a missing type is tolerated, another one is not.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(media_type) = media_type(headers) else {
        return Ok(());
    };
    let json = media_type.is_empty()
        || media_type == "application/json"
        || media_type.starts_with("application/x-amz-json-");
    if json {
        Ok(())
    } else {
        let declared = headers
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("<not text>");
        Err(ApiError::unsupported_media_type(declared))
    }
}

/// The body as a JSON object. An empty body means an input with no members, as botocore
/// may send.
pub fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
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

/// An input shape from the body object. Type mismatches are `SerializationException`s,
/// as AWS answers them, naming the member. The plain decode runs first; only a failing
/// input is decoded again to find the path.
pub fn decode<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    if let Ok(input) = T::deserialize(body) {
        return Ok(input);
    }
    serde_path_to_error::deserialize(body).map_err(|err| {
        ApiError::serialization(format!(
            "Value at '{}' cannot be converted to the input shape: {}",
            err.path(),
            err.inner()
        ))
    })
}

/// An output shape as the body of a 200.
pub fn encode<T: Serialize>(output: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(output).map_err(|_| ApiError::internal_failure())
}

/// The body of an output without members.
pub fn empty() -> Result<Vec<u8>, ApiError> {
    Ok(b"{}".to_vec())
}

/// A successful answer.
pub fn ok_response(body: Vec<u8>) -> HttpResponse {
    json_response(StatusCode::OK, body)
}

/// The rest-json error shape: `x-amzn-ErrorType` names the exception, the body carries
/// the modelled `Message` (and `message`, which some clients read instead).
pub fn error_response(err: &ApiError) -> HttpResponse {
    let body = serde_json::json!({
        "__type": err.code,
        "Message": err.message,
        "message": err.message,
    });
    let mut response = json_response(
        status_of(err),
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(err.code),
    );
    response
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;
    use crate::wire::http::test_headers as headers;

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
        assert_eq!(parse_object(b"").unwrap(), json!({}));
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"{\"a\":").is_err());
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct Input {
        stream_name: Option<String>,
        data_retention_in_hours: Option<i64>,
        tags: Option<std::collections::BTreeMap<String, String>>,
    }

    #[test]
    fn type_errors_name_the_member() {
        let body = json!({"StreamName": "x", "DataRetentionInHours": "24"});
        let err = decode::<Input>(&body).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        assert!(
            err.message.contains("'DataRetentionInHours'"),
            "{}",
            err.message
        );
        let err = decode::<Input>(&json!({"StreamName": 5})).unwrap_err();
        assert!(err.message.contains("'StreamName'"), "{}", err.message);
        let err = decode::<Input>(&json!({"StreamName": "x", "Tags": {"a": 1}})).unwrap_err();
        assert!(err.message.contains("'Tags.a'"), "{}", err.message);
    }
}
