//! What a request's SigV4 signature says: the access key, the region and service of its
//! credential scope, the session token, and the proof (the signed headers and the
//! signature) that `signing::verify` checks once the secret is known. Presence and shape are
//! checked first, as AWS checks them before anything else.

use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, DATE, HeaderName};

use crate::model::arn::is_region;

static X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
static X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");

/// The parts of a signature the emulator uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signature {
    pub access_key_id: String,
    /// The credential scope's region (`AKID/DATE/REGION/SERVICE/aws4_request`).
    pub region: String,
    /// `X-Amz-Security-Token`, sent with temporary credentials.
    pub session_token: Option<String>,
    /// What the `Authorization` header signs (`None` for a presigned query).
    pub proof: Option<Proof>,
}

/// The signed part of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// `DATE/REGION/SERVICE/aws4_request`.
    pub scope: String,
    /// `SignedHeaders`, e.g. `host;x-amz-date`.
    pub signed_headers: String,
    /// `Signature`, lower-case hex.
    pub signature: String,
}

/// Why a request's authentication was refused before its credentials were looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header and no presigned query.
    Missing,
    /// A malformed SigV4 header or scope; the text says what is wrong.
    Incomplete(String),
}

/// Reads the signature from the `Authorization` header or a presigned query.
pub fn signature(headers: &HeaderMap, query: Option<&str>) -> Result<Signature, AuthError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return presigned(query);
    };
    let header = header.to_str().unwrap_or_default();
    let Some(parameters) = header.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(AuthError::Incomplete(format!(
            "Authorization header requires the AWS4-HMAC-SHA256 scheme; got {:?}.",
            header.split(' ').next().unwrap_or_default()
        )));
    };
    // Credential, SignedHeaders, Signature, read in one pass.
    const NAMES: [&str; 3] = ["Credential", "SignedHeaders", "Signature"];
    let mut found: [Option<&str>; 3] = [None; 3];
    for part in parameters.split(',').map(str::trim) {
        if let Some((name, value)) = part.split_once('=')
            && let Some(i) = NAMES.iter().position(|n| *n == name)
        {
            found[i] = Some(value);
        }
    }
    let missing: Vec<&str> = NAMES
        .into_iter()
        .zip(found)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| name)
        .collect();
    if !missing.is_empty() {
        return Err(AuthError::Incomplete(
            missing
                .iter()
                .map(|name| format!("Authorization header requires '{name}' parameter."))
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    if !headers.contains_key(&X_AMZ_DATE) && !headers.contains_key(DATE) {
        return Err(AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        ));
    }
    let credential = found[0].unwrap_or_default();
    let (access_key_id, region) = credential_scope(credential)?;
    let scope = credential
        .split_once('/')
        .map(|(_, scope)| scope)
        .unwrap_or_default();
    Ok(Signature {
        access_key_id,
        region,
        session_token: headers
            .get(&X_AMZ_SECURITY_TOKEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        proof: Some(Proof {
            scope: scope.to_owned(),
            signed_headers: found[1].unwrap_or_default().to_owned(),
            signature: found[2].unwrap_or_default().to_owned(),
        }),
    })
}

fn presigned(query: Option<&str>) -> Result<Signature, AuthError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let (Some(credential), Some(_)) = (get("X-Amz-Credential"), get("X-Amz-Signature")) else {
        return Err(AuthError::Missing);
    };
    let (access_key_id, region) = credential_scope(credential)?;
    Ok(Signature {
        access_key_id,
        region,
        session_token: get("X-Amz-Security-Token").map(str::to_owned),
        proof: None,
    })
}

/// Splits `AKID/DATE/REGION/SERVICE/aws4_request`.
fn credential_scope(credential: &str) -> Result<(String, String), AuthError> {
    let mut parts = credential.splitn(6, '/');
    let (Some(key), Some(_date), Some(region), Some(_service), Some(terminator), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(AuthError::Incomplete(format!(
            "Credential must have the form <key>/<date>/<region>/<service>/aws4_request; got {credential:?}."
        )));
    };
    if terminator != "aws4_request" {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    if key.is_empty() {
        return Err(AuthError::Incomplete(
            "Credential must name an access key.".into(),
        ));
    }
    if !is_region(region) {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped to a valid region, not '{region}'."
        )));
    }
    Ok((key.to_owned(), region.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::http::test_headers as headers;

    #[test]
    fn header_signatures() {
        assert_eq!(signature(&HeaderMap::new(), None), Err(AuthError::Missing));
        let signed = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            ),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-security-token", "TOKEN"),
        ]);
        assert_eq!(
            signature(&signed, None),
            Ok(Signature {
                access_key_id: "AKID".into(),
                region: "eu-west-1".into(),
                session_token: Some("TOKEN".into()),
                proof: Some(Proof {
                    scope: "20260101/eu-west-1/kinesisvideo/aws4_request".into(),
                    signed_headers: "host;x-amz-date".into(),
                    signature: "abc".into(),
                }),
            })
        );
        let basic = headers(&[("authorization", "Basic Zm9vOmJhcg==")]);
        assert!(matches!(
            signature(&basic, None),
            Err(AuthError::Incomplete(_))
        ));
        let partial = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=x"),
            ("x-amz-date", "x"),
        ]);
        let Err(AuthError::Incomplete(message)) = signature(&partial, None) else {
            panic!("incomplete");
        };
        assert!(message.contains("'Signature'"), "{message}");
        let bad_scope = headers(&[
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/US_WEST/kvs/aws4_request, SignedHeaders=host, Signature=abc",
            ),
            ("x-amz-date", "x"),
        ]);
        let Err(AuthError::Incomplete(message)) = signature(&bad_scope, None) else {
            panic!("bad region");
        };
        assert!(message.contains("valid region"), "{message}");
    }

    #[test]
    fn presigned_queries() {
        let query = "X-Amz-Credential=AKID%2F20260101%2Fap-south-1%2Fsts%2Faws4_request&X-Amz-Signature=b&X-Amz-Security-Token=T%2B1";
        assert_eq!(
            signature(&HeaderMap::new(), Some(query)),
            Ok(Signature {
                access_key_id: "AKID".into(),
                region: "ap-south-1".into(),
                session_token: Some("T+1".into()),
                proof: None,
            })
        );
        assert_eq!(
            signature(&HeaderMap::new(), Some("X-Amz-Credential=a")),
            Err(AuthError::Missing)
        );
        assert!(matches!(
            signature(
                &HeaderMap::new(),
                Some("X-Amz-Credential=a&X-Amz-Signature=b")
            ),
            Err(AuthError::Incomplete(_))
        ));
    }
}
