//! Helpers every test binary (and the benchmark) shares: the emulator and the SDK client
//! pointed at it, a free port, an HTTP probe, and stopping a child process like a kubelet.
//! Each binary uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use kvs_emulator::{Config, Delays, Running, Settings};

/// Emulator settings with the same short but real delay for every transition.
pub fn emulator_config(delay: Duration) -> Config {
    Config {
        settings: Settings {
            delays: Delays {
                create: delay,
                update: delay,
                delete: delay,
            },
            ..Settings::default()
        },
        ..Config::default()
    }
}

/// The real aws-sdk-kinesisvideo client pointed at an emulator, with static credentials.
pub fn sdk_client(emulator: &Running) -> aws_sdk_kinesisvideo::Client {
    use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(emulator.region().to_string()))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "tests",
        ))
        .endpoint_url(emulator.url())
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}

/// A loopback address whose port is free right now.
pub fn free_local_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// A minimal HTTP/1.0 GET: (status, body), or `None` when nothing listens.
pub async fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// SIGTERM, as the kubelet stops a pod; waits up to `within` and returns the exit code.
pub async fn terminate(child: &mut tokio::process::Child, within: Duration) -> Option<i32> {
    let pid = i32::try_from(child.id()?).ok()?;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid)?,
        rustix::process::Signal::TERM,
    )
    .ok()?;
    let status = tokio::time::timeout(within, child.wait())
        .await
        .ok()?
        .ok()?;
    status.code()
}
