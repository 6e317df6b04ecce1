//! Shared helpers: an emulator per test, the real SDK client pointed at it, and a raw
//! HTTP client for requests the SDK would never send.

#![allow(dead_code)]

use std::time::Duration;

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::config::retry::RetryConfig;
use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesisvideo::error::{ProvideErrorMetadata, SdkError};
use kvs_emulator::{Config, Delays, Emulator, Running, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const REGION: &str = "us-west-2";
pub const ACCOUNT: &str = "123456789012";

/// Settings for semantic tests: immediate transitions, no quotas.
pub fn instant_settings() -> Settings {
    let mut settings = Settings {
        delays: Delays::NONE,
        ..Settings::default()
    };
    settings.quotas.enabled = false;
    settings
}

/// An emulator with `settings` on a free loopback port.
pub async fn start_with(settings: Settings) -> Running {
    let config = Config {
        settings,
        ..Config::default()
    };
    Emulator::start(config).await.expect("emulator starts")
}

/// An emulator with immediate transitions and no quotas.
pub async fn start() -> Running {
    start_with(instant_settings()).await
}

/// The base access key of [`client`]: not issued by the emulator, so it acts in the
/// default account unless `sts.access_keys` names another.
pub const BASE_KEY: &str = "AKIDEXAMPLE";

/// Static credentials with `key` (a base key, or one issued by AssumeRole with its token).
pub fn credentials(key: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::new(key, secret, token.map(str::to_owned), None, "test")
}

/// The base credentials of [`client`].
pub fn base_credentials() -> Credentials {
    credentials(BASE_KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)
}

/// The real SDK client, signing with static test credentials, without retries so every
/// error is seen as the emulator answered it.
pub fn client(emulator: &Running) -> Client {
    client_with(emulator, REGION, base_credentials())
}

/// The KVS client signing for `region` with `credentials`.
pub fn client_with(emulator: &Running, region: &str, credentials: Credentials) -> Client {
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .endpoint_url(emulator.url())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// The real STS client signing for `region` with `credentials`, without retries.
pub fn sts_client(
    emulator: &Running,
    region: &str,
    credentials: Credentials,
) -> aws_sdk_sts::Client {
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .endpoint_url(emulator.url())
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(config)
}

/// The error type code and HTTP status of a failed SDK call.
pub fn code_and_status<E: ProvideErrorMetadata, T: std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_kinesisvideo::config::http::HttpResponse>>,
) -> (String, u16) {
    let (code, status, _) = error_of(result);
    (code, status)
}

/// The error type code, HTTP status and message of a failed SDK call.
pub fn error_of<E: ProvideErrorMetadata, T: std::fmt::Debug>(
    result: Result<T, SdkError<E, aws_sdk_kinesisvideo::config::http::HttpResponse>>,
) -> (String, u16, String) {
    let err = result.expect_err("the call must fail");
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (
        err.code().unwrap_or("<none>").to_owned(),
        status,
        err.message().unwrap_or_default().to_owned(),
    )
}

/// Polls `DescribeStream` until the stream has `status`.
pub async fn wait_for_status(client: &Client, name: &str, status: &str) {
    for _ in 0..200 {
        let described = client.describe_stream().stream_name(name).send().await;
        if let Ok(out) = &described
            && out
                .stream_info()
                .and_then(|i| i.status())
                .map(|s| s.as_str())
                == Some(status)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("stream {name} never became {status}");
}

/// A raw HTTP/1.1 exchange, for requests no SDK sends.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

/// Headers that make a request look signed to the emulator.
pub const SIGNED: &[(&str, &str)] = &[
    (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/kinesisvideo/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
    ),
    ("X-Amz-Date", "20260101T000000Z"),
];

/// Sends `method path` with `headers` and `body` over a fresh connection.
pub async fn raw(
    emulator: &Running,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    // Head and body go in two writes: do not let Nagle hold the second one back.
    stream.set_nodelay(true).expect("nodelay");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        emulator.local_addr(),
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    stream.write_all(body).await.expect("write body");
    read_response(&mut stream).await
}

/// Reads one response from a connection the server closes afterwards.
pub async fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A signed JSON POST of an operation.
pub async fn post(emulator: &Running, path: &str, body: &str) -> RawResponse {
    let mut headers = SIGNED.to_vec();
    headers.push(("Content-Type", "application/json"));
    raw(emulator, "POST", path, &headers, body.as_bytes()).await
}
