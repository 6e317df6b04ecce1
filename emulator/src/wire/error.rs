//! The errors an API call answers with, shaped as AWS writes them: the modelled error type
//! (`x-amzn-ErrorType` in rest-json, `Code` in the query protocol), its HTTP status and a
//! message. The KVS exceptions, STS's codes and the protocol-level errors all live here.

use super::sigv4::AuthError;

/// How a service spells its errors: KVS is rest-json (`…Exception` codes in JSON), STS
/// the query protocol (short codes in an XML `ErrorResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    RestJson,
    Query,
}

/// An error answered to an API client the way KVS does: an HTTP status, the
/// `x-amzn-ErrorType` header and a JSON body carrying the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The error type, e.g. `ResourceNotFoundException`; the SDKs map it to the modelled
    /// exception.
    pub code: &'static str,
    /// The HTTP status the model gives that exception.
    pub status: u16,
    /// Human-readable text, returned as `Message` (and `message`) in the body.
    pub message: String,
}

impl ApiError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status,
            message: message.into(),
        }
    }

    /// An input breaks the model's constraints or the service's rules.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidArgumentException", 400, message)
    }

    /// The addressed stream does not exist. The text is the service's own.
    pub fn stream_not_found() -> Self {
        Self::new(
            "ResourceNotFoundException",
            404,
            "The requested stream is not found or not active.",
        )
    }

    /// The addressed signaling channel does not exist (or is being deleted).
    pub fn channel_not_found() -> Self {
        Self::new(
            "ResourceNotFoundException",
            404,
            "The requested channel is not found or not active.",
        )
    }

    /// The account has as many signaling channels as its quota allows.
    pub fn account_channel_limit(message: impl Into<String>) -> Self {
        Self::new("AccountChannelLimitExceededException", 400, message)
    }

    /// The stream keeps no data (retention 0), which the operation needs.
    pub fn no_data_retention(message: impl Into<String>) -> Self {
        Self::new("NoDataRetentionException", 400, message)
    }

    /// The stream exists already, or is not ACTIVE for a mutation.
    pub fn resource_in_use(message: impl Into<String>) -> Self {
        Self::new("ResourceInUseException", 400, message)
    }

    /// `CurrentVersion` is not the stream's latest version.
    pub fn version_mismatch(message: impl Into<String>) -> Self {
        Self::new("VersionMismatchException", 400, message)
    }

    /// More than 50 tags would be on the stream.
    pub fn too_many_tags(message: impl Into<String>) -> Self {
        Self::new("TagsPerResourceExceededLimitException", 400, message)
    }

    /// The ARN names a resource that is not a stream.
    pub fn invalid_resource_format(message: impl Into<String>) -> Self {
        Self::new("InvalidResourceFormatException", 400, message)
    }

    /// The account has as many streams as its quota allows.
    pub fn account_stream_limit(message: impl Into<String>) -> Self {
        Self::new("AccountStreamLimitExceededException", 400, message)
    }

    /// A TPS quota was exceeded.
    pub fn client_limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("ClientLimitExceededException", 400, message)
    }

    /// An injected server-side failure; the SDKs retry it.
    pub fn internal_failure() -> Self {
        Self::new(
            "InternalFailure",
            500,
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// A refused signature, as `protocol` spells it.
    pub fn auth(protocol: Protocol, err: AuthError) -> Self {
        match (protocol, err) {
            (Protocol::RestJson, AuthError::Missing) => Self::new(
                "MissingAuthenticationTokenException",
                403,
                "Missing Authentication Token",
            ),
            (Protocol::Query, AuthError::Missing) => Self::new(
                "MissingAuthenticationToken",
                403,
                "Request is missing Authentication Token",
            ),
            (Protocol::RestJson, AuthError::Incomplete(message)) => {
                Self::new("IncompleteSignatureException", 403, message)
            }
            (Protocol::Query, AuthError::Incomplete(message)) => {
                Self::new("IncompleteSignature", 403, message)
            }
        }
    }

    /// Credentials the emulator never issued (a temporary key it does not know, or a
    /// session token that is not the key's), as `protocol` spells it.
    pub fn unrecognized_client(protocol: Protocol) -> Self {
        const INVALID: &str = "The security token included in the request is invalid.";
        match protocol {
            Protocol::RestJson => Self::new("UnrecognizedClientException", 403, INVALID),
            Protocol::Query => Self::new("InvalidClientTokenId", 403, INVALID),
        }
    }

    /// A signature that is not the request's by the credentials' secret, as `protocol`
    /// spells it.
    pub fn invalid_signature(protocol: Protocol) -> Self {
        const MISMATCH: &str = "The request signature we calculated does not match the \
             signature you provided. Check your AWS Secret Access Key and signing method. \
             Consult the service documentation for details.";
        match protocol {
            Protocol::RestJson => Self::new("InvalidSignatureException", 403, MISMATCH),
            Protocol::Query => Self::new("SignatureDoesNotMatch", 403, MISMATCH),
        }
    }

    /// Session credentials past their expiry, as `protocol` spells it.
    pub fn expired_token(protocol: Protocol) -> Self {
        const EXPIRED: &str = "The security token included in the request is expired";
        match protocol {
            Protocol::RestJson => Self::new("ExpiredTokenException", 403, EXPIRED),
            Protocol::Query => Self::new("ExpiredToken", 403, EXPIRED),
        }
    }

    /// KVS: the caller's permissions do not cover the resource (modelled with 401).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDeniedException", 401, message)
    }

    /// STS: an input breaks the model's constraints.
    pub fn validation_error(message: impl Into<String>) -> Self {
        Self::new("ValidationError", 400, message)
    }

    /// STS: the trust policy does not let the caller assume the role.
    pub fn sts_access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDenied", 403, message)
    }

    /// STS: the session policy is not a JSON policy document.
    pub fn malformed_policy_document(message: impl Into<String>) -> Self {
        Self::new("MalformedPolicyDocument", 400, message)
    }

    /// STS: session policies and tags too large to pack.
    pub fn packed_policy_too_large(message: impl Into<String>) -> Self {
        Self::new("PackedPolicyTooLarge", 400, message)
    }

    /// STS: no `Action` parameter.
    pub fn missing_action() -> Self {
        Self::new(
            "MissingAction",
            400,
            "The request must contain the parameter Action.",
        )
    }

    /// STS: an `Action` (or `Version`) STS does not serve.
    pub fn invalid_action(action: &str, version: &str) -> Self {
        Self::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version {version}."),
        )
    }

    /// STS's throttling error.
    pub fn throttling() -> Self {
        Self::new("Throttling", 400, "Rate exceeded")
    }

    /// No operation is served at this method and path.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new(
            "UnknownOperationException",
            404,
            format!("No operation is served at {method} {path}."),
        )
    }

    /// The body is not a JSON object of the operation's input shape.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("SerializationException", 400, message)
    }

    /// The body is declared as something other than JSON.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            "UnsupportedMediaTypeException",
            415,
            format!("Content-Type {content_type:?} is not supported; use application/json."),
        )
    }

    /// The body is larger than the emulator accepts.
    pub fn request_too_large(limit: usize) -> Self {
        Self::new(
            "RequestEntityTooLargeException",
            413,
            format!("The request body exceeds {limit} bytes."),
        )
    }

    /// The client took too long to send its body.
    pub fn request_timeout() -> Self {
        Self::new(
            "RequestTimeoutException",
            408,
            "The request body was not received in time.",
        )
    }
}
