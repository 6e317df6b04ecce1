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

/// A loopback address whose port is free right now, for a server a test starts that binds
/// it a while later. The port lies below the kernel's ephemeral range, so no outgoing
/// connection (nor a port testenv asks the kernel for) can take it in the meantime, as one
/// did to Argo CD's controller in a CI run; and this process never hands one out twice.
pub fn free_local_addr() -> SocketAddr {
    use std::collections::BTreeSet;
    use std::hash::{BuildHasher, RandomState};
    use std::net::{Ipv4Addr, TcpListener};
    use std::sync::{Mutex, PoisonError};

    const LOWEST: u16 = 10_000;
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let ephemeral = first_ephemeral_port();
    if ephemeral <= LOWEST {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        return listener.local_addr().expect("address");
    }
    let span = u64::from(ephemeral - LOWEST);
    // A random start, so test processes running side by side rarely try the same ports.
    let start = RandomState::new().hash_one(std::process::id());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    for step in 0..span {
        let port = LOWEST + ((start.wrapping_add(step)) % span) as u16;
        // Free on every interface: the servers started here bind 0.0.0.0 or 127.0.0.1.
        if !handed_out.contains(&port) && TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok() {
            handed_out.insert(port);
            return SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        }
    }
    panic!("no free port between {LOWEST} and {ephemeral}");
}

/// Where the kernel's ephemeral ports begin (`ip_local_port_range`; Linux's default 32768).
fn first_ephemeral_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
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
