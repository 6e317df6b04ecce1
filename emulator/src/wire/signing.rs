//! SigV4 checked as AWS checks it, for credentials whose secret the emulator knows (the
//! sessions it issued): the canonical request rebuilt from what arrived, the string to
//! sign, the signing key derived from the secret and the scope, and the signature
//! compared. Base credentials have no secret the emulator could know, so their
//! signatures stay unchecked.

use std::fmt::Write as _;

use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use super::sigv4::Proof;

/// What a request says besides its body.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// Whether `proof` is the signature of the request by `secret`.
pub fn verify(proof: &Proof, secret: &str, request: &Signed<'_>, body: &[u8]) -> bool {
    signature(proof, secret, request, body).is_some_and(|expected| expected == proof.signature)
}

/// The signature `secret` gives the request, if it names a date to sign with.
fn signature(proof: &Proof, secret: &str, request: &Signed<'_>, body: &[u8]) -> Option<String> {
    let date = header(request.headers, "x-amz-date")?;
    let payload = header(request.headers, "x-amz-content-sha256")
        .map_or_else(|| hex(&Sha256::digest(body)), str::to_owned);
    let canonical = canonical_request(proof, request, &payload);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{}\n{}",
        proof.scope,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in proof.scope.split('/') {
        key = hmac(&key, part.as_bytes())?;
    }
    Some(hex(&hmac(&key, to_sign.as_bytes())?))
}

fn canonical_request(proof: &Proof, request: &Signed<'_>, payload: &str) -> String {
    let mut canonical = format!(
        "{}\n{}\n{}\n",
        request.method,
        canonical_path(request.path),
        canonical_query(request.query.unwrap_or_default())
    );
    for name in proof.signed_headers.split(';') {
        let values: Vec<String> = request
            .headers
            .get_all(name)
            .iter()
            .map(|value| {
                let text = String::from_utf8_lossy(value.as_bytes());
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        let _ = writeln!(canonical, "{name}:{}", values.join(","));
    }
    let _ = write!(canonical, "\n{}\n{payload}", proof.signed_headers);
    canonical
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Each segment of the path URI-encoded (twice, as every service but S3 signs it).
fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.split('/')
        .map(|segment| encode(&encode(&decode(segment))))
        .collect::<Vec<_>>()
        .join("/")
}

/// The query's parameters decoded, encoded again the SigV4 way, sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (encode(&decode(name)), encode(&decode(value)))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-decoding (a `+` stays a `+`, as SigV4 reads it).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes.get(i + 1..i + 3).and_then(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        });
        match (bytes[i], hex_pair) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(data);
    Some(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::http::test_headers;

    /// The get-vanilla example of AWS's SigV4 test suite (its published inputs and
    /// signature), so the canonicalization is AWS's and not only the emulator's own.
    #[test]
    fn the_sigv4_test_suite_vanilla_example() {
        let headers = test_headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let proof = Proof {
            scope: "20150830/us-east-1/service/aws4_request".into(),
            signed_headers: "host;x-amz-date".into(),
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".into(),
        };
        let request = Signed {
            method: "GET",
            path: "/",
            query: None,
            headers: &headers,
        };
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert!(verify(&proof, secret, &request, b""));
        assert!(!verify(&proof, "another secret", &request, b""));
        assert!(!verify(&proof, secret, &request, b"a body"));
    }

    #[test]
    fn queries_and_paths_are_canonical() {
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(canonical_query("Action=A+B"), "Action=A%2BB");
        assert_eq!(canonical_path("/describeStream"), "/describeStream");
        assert_eq!(canonical_path(""), "/");
    }
}
