//! The HTTP surface: authentication, bad input, the admin API and the binary.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{SIGNED, client, post, raw, start};
use kvs_emulator::Operation;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn unsigned_requests_are_refused() {
    let emulator = start().await;
    let unsigned = raw(
        &emulator,
        "POST",
        "/listStreams",
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(
        unsigned.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert_eq!(unsigned.json()["message"], "Missing Authentication Token");

    let not_sigv4 = raw(
        &emulator,
        "POST",
        "/listStreams",
        &[("Authorization", "Bearer abc")],
        b"{}",
    )
    .await;
    assert_eq!(not_sigv4.status, 403);
    assert_eq!(
        not_sigv4.header("x-amzn-ErrorType"),
        Some("IncompleteSignatureException")
    );
    // Unsigned requests are not even routed: unknown paths get the same answer, as AWS.
    let unknown = raw(&emulator, "GET", "/nothing", &[], b"").await;
    assert_eq!(unknown.status, 403);
    assert!(
        emulator.calls().is_empty(),
        "refused before reaching an operation"
    );
}

/// Method, path, extra headers, body, expected status and error type.
type BadRequest = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn bad_input_gets_aws_shaped_errors_and_changes_nothing() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("keep")
        .tags("a", "b")
        .send()
        .await
        .expect("create");
    let before = emulator.streams();

    let cases: [BadRequest; 8] = [
        (
            "POST",
            "/createStream",
            vec![],
            b"{not json".to_vec(),
            400,
            "SerializationException",
        ),
        (
            "POST",
            "/createStream",
            vec![],
            b"[1,2]".to_vec(),
            400,
            "SerializationException",
        ),
        (
            "POST",
            "/createStream",
            vec![],
            br#"{"StreamName":5}"#.to_vec(),
            400,
            "SerializationException",
        ),
        (
            "POST",
            "/tagStream",
            vec![],
            br#"{"StreamName":"keep","Tags":{"a":null}}"#.to_vec(),
            400,
            "SerializationException",
        ),
        (
            "POST",
            "/describeStream",
            vec![],
            vec![0xff, 0xfe, 0x00],
            400,
            "SerializationException",
        ),
        (
            "POST",
            "/createStream",
            vec![("Content-Type", "text/xml")],
            b"<x/>".to_vec(),
            415,
            "UnsupportedMediaTypeException",
        ),
        (
            "POST",
            "/listTagsForResource",
            vec![],
            b"{}".to_vec(),
            404,
            "UnknownOperationException",
        ),
        (
            "GET",
            "/describeStream",
            vec![],
            vec![],
            404,
            "UnknownOperationException",
        ),
    ];
    for (method, path, extra, body, status, code) in cases {
        let mut headers = SIGNED.to_vec();
        headers.extend(extra);
        let response = raw(&emulator, method, path, &headers, &body).await;
        assert_eq!(
            response.status, status,
            "{method} {path}: {}",
            response.body
        );
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some(code),
            "{method} {path}"
        );
        assert_eq!(response.header("Content-Type"), Some("application/json"));
        assert!(response.header("x-amzn-RequestId").is_some());
        assert!(
            !response.json()["Message"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        );
    }

    // Oversized: refused with 413, whether declared or streamed.
    let big = vec![b' '; 2 * 1024 * 1024];
    let mut headers = SIGNED.to_vec();
    headers.push(("Content-Type", "application/json"));
    let response = raw(&emulator, "POST", "/createStream", &headers, &big).await;
    assert_eq!(response.status, 413);
    assert_eq!(
        response.header("x-amzn-ErrorType"),
        Some("RequestEntityTooLargeException")
    );
    let chunked = chunked_post(&emulator, "/createStream", &big).await;
    assert_eq!(chunked.status, 413, "{}", chunked.body);

    // Not HTTP at all: the connection is answered or closed, the server lives on.
    let mut garbage = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    garbage
        .write_all(b"\x16\x03\x01 hello\r\n\r\n")
        .await
        .expect("write");
    let _ = common::read_response(&mut garbage).await;

    assert_eq!(emulator.streams(), before, "state intact");
    let info = kvs
        .describe_stream()
        .stream_name("keep")
        .send()
        .await
        .expect("still serving");
    assert_eq!(
        info.stream_info().and_then(|i| i.stream_name()),
        Some("keep")
    );
    let serialization = emulator.calls_of(Operation::CreateStream);
    assert_eq!(serialization.errors_of("SerializationException"), 3);
}

async fn chunked_post(
    emulator: &kvs_emulator::Running,
    path: &str,
    body: &[u8],
) -> common::RawResponse {
    let mut stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
    );
    for (name, value) in SIGNED {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("head");
    for chunk in body.chunks(64 * 1024) {
        let frame = format!("{:x}\r\n", chunk.len());
        // The server may answer and close before the whole body is sent.
        if stream.write_all(frame.as_bytes()).await.is_err()
            || stream.write_all(chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    common::read_response(&mut stream).await
}

#[tokio::test]
async fn admin_endpoints() {
    let emulator = start().await;
    let kvs = client(&emulator);
    kvs.create_stream()
        .stream_name("adm")
        .tags("team", "x")
        .send()
        .await
        .expect("create");
    let _ = kvs.describe_stream().stream_name("nope").send().await;
    kvs.describe_stream()
        .stream_name("adm")
        .send()
        .await
        .expect("describe");

    let calls = raw(&emulator, "GET", "/_emulator/calls", &[], b"").await;
    assert_eq!(calls.status, 200);
    let calls = calls.json();
    assert_eq!(calls["CreateStream"]["total"], 1);
    assert_eq!(calls["DescribeStream"]["total"], 2);
    assert_eq!(calls["DescribeStream"]["succeeded"], 1);
    assert_eq!(
        calls["DescribeStream"]["errors"]["ResourceNotFoundException"],
        1
    );
    assert_eq!(emulator.calls_of(Operation::DescribeStream).total, 2);
    assert_eq!(emulator.total_calls(), 3);

    let streams = raw(&emulator, "GET", "/_emulator/streams", &[], b"")
        .await
        .json();
    let stream = &streams["streams"][0];
    assert_eq!(stream["StreamName"], "adm");
    assert_eq!(stream["Tags"]["team"], "x");
    assert_eq!(stream["Status"], "ACTIVE");
    assert_eq!(stream["StorageTier"], "HOT");
    assert!(stream["CreationTime"].is_f64());

    assert_eq!(
        raw(&emulator, "DELETE", "/_emulator/calls", &[], b"")
            .await
            .status,
        200
    );
    assert!(emulator.calls().is_empty());

    let config = raw(&emulator, "GET", "/_emulator/config", &[], b"")
        .await
        .json();
    assert_eq!(config["quotas"]["account_tps"]["DescribeStream"], 300);
    assert_eq!(config["quotas"]["per_stream_tps"], 5);
    let patch =
        br#"{"faults":{"latency_ms":5},"quotas":{"enabled":true,"account_tps":{"ListStreams":1}}}"#;
    let updated = raw(&emulator, "PUT", "/_emulator/config", &[], patch).await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["quotas"]["account_tps"]["ListStreams"], 1);
    assert_eq!(emulator.settings().faults.latency, Duration::from_millis(5));
    kvs.list_streams().send().await.expect("first within quota");
    let throttled = kvs.list_streams().send().await;
    assert_eq!(
        common::code_and_status(throttled).0,
        "ClientLimitExceededException"
    );

    let bad = raw(
        &emulator,
        "PUT",
        "/_emulator/config",
        &[],
        br#"{"faults":{"error_rate":3}}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    let bad = raw(&emulator, "PUT", "/_emulator/config", &[], b"nope").await;
    assert_eq!(bad.status, 400);
    assert_eq!(emulator.settings().faults.error_rate, 0.0);
    assert_eq!(
        raw(&emulator, "GET", "/_emulator/unknown", &[], b"")
            .await
            .status,
        404
    );
    let health = raw(&emulator, "GET", "/_emulator/health", &[], b"")
        .await
        .json();
    assert_eq!(health["region"], "us-west-2");

    assert_eq!(
        raw(&emulator, "DELETE", "/_emulator/streams", &[], b"")
            .await
            .status,
        200
    );
    assert!(emulator.streams().is_empty());
    let quotas_off = br#"{"quotas":{"enabled":false}}"#;
    assert_eq!(
        raw(&emulator, "PUT", "/_emulator/config", &[], quotas_off)
            .await
            .status,
        200
    );
    assert_eq!(
        listed_count(&post(&emulator, "/listStreams", "{}").await),
        0,
        "nothing listed after the wipe"
    );
}

fn listed_count(response: &common::RawResponse) -> usize {
    response.json()["StreamInfoList"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(usize::MAX)
}

#[test]
fn binary_serves_until_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvs-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--create-delay-ms",
            "0",
            "--region",
            "eu-central-1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn kvs-emulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("ready line");
    let url = line
        .trim()
        .strip_prefix("kvs-emulator listening on ")
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"))
        .to_owned();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let config = aws_sdk_kinesisvideo::Config::builder()
            .behavior_version(aws_sdk_kinesisvideo::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesisvideo::config::Region::new("eu-central-1"))
            .credentials_provider(aws_sdk_kinesisvideo::config::Credentials::new(
                "AKID", "SECRET", None, None, "test",
            ))
            .endpoint_url(&url)
            .build();
        let kvs = aws_sdk_kinesisvideo::Client::from_conf(config);
        let arn = kvs
            .create_stream()
            .stream_name("bin")
            .send()
            .await
            .expect("create through the binary")
            .stream_arn
            .expect("arn");
        assert!(arn.starts_with("arn:aws:kinesisvideo:eu-central-1:123456789012:stream/bin/"));
    });

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn binary_rejects_bad_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_kvs-emulator"))
        .args(["--listen", "127.0.0.1:0", "--account-id", "12"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("account id"));
}
