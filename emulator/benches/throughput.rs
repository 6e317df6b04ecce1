//! `cargo bench -p kvs-emulator`: the emulator through the real SDK over HTTP.
//!
//! 1. DescribeStream requests per second on one stream, at 1, 8 and 32 in flight.
//! 2. A fleet: `KVS_BENCH_STREAMS` streams (default 100,000) over `KVS_BENCH_ACCOUNTS`
//!    accounts (default 10), each account reached through an AssumeRole session, as the
//!    operator reaches its AccountBindings. The SDK costs far more CPU per call than the
//!    emulator, so the emulator's own capacity is measured with a minimal keep-alive HTTP
//!    client ("raw HTTP"): CreateStream rate, the process's RSS before and after,
//!    ListStreams pages of 10,000 (raw and via the SDK), DescribeStream of random streams
//!    (via the SDK; raw without quotas and with the per-stream quotas on, account quotas
//!    raised so nothing is throttled), and what the call log holds afterwards.
//!
//! Printed, never asserted: the numbers depend on the machine. `KVS_BENCH_SECONDS` sets
//! the length of each throughput run (default 3).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kinesisvideo::Client;
use aws_sdk_kinesisvideo::config::retry::RetryConfig;
use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use futures::future::join_all;
use kvs_emulator::{Config, Delays, Emulator, Operation, Running, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const REGION: &str = "us-west-2";
const PAGE: usize = 10_000;
const IN_FLIGHT: usize = 32;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> BenchResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(
        Duration::from_secs(env_or("KVS_BENCH_SECONDS", 3)),
        env_or("KVS_BENCH_STREAMS", 100_000) as usize,
        env_or("KVS_BENCH_ACCOUNTS", 10).max(1) as usize,
    ))
}

async fn run(duration: Duration, streams: usize, accounts: usize) -> BenchResult<()> {
    let mut settings = Settings {
        delays: Delays::NONE,
        ..Settings::default()
    };
    settings.quotas.enabled = false;
    let emulator = Emulator::start(Config {
        settings,
        ..Config::default()
    })
    .await?;
    println!(
        "kvs-emulator benchmark ({:.1} s per throughput run)",
        duration.as_secs_f64()
    );
    let base = client(&emulator, base_credentials());
    base.create_stream().stream_name("bench").send().await?;
    describe_loop(&base, &["bench".to_owned()], 1, Duration::from_millis(300)).await?;
    for concurrency in [1, 8, IN_FLIGHT] {
        let calls = describe_loop(&base, &["bench".to_owned()], concurrency, duration).await?;
        println!(
            "DescribeStream of one stream, {concurrency:>2} in flight: {:>8.0} requests/s",
            calls as f64 / duration.as_secs_f64()
        );
    }
    emulator.clear_streams();
    emulator.reset_calls();
    fleet(&emulator, duration, streams, accounts).await?;
    emulator.shutdown().await;
    Ok(())
}

async fn fleet(
    emulator: &Running,
    duration: Duration,
    streams: usize,
    accounts: usize,
) -> BenchResult<()> {
    let per_account = streams.div_ceil(accounts);
    println!("fleet: {streams} streams over {accounts} accounts ({per_account} each)");
    let mut tenants = Vec::new();
    for i in 0..accounts {
        let account = format!("{:012}", 100_000_000_000 + i as u64);
        let session = assume(emulator, &account).await?;
        tenants.push((account, client(emulator, session.credentials()), session));
    }
    let sessions: Vec<Session> = tenants.iter().map(|(_, _, s)| s.clone()).collect();
    // Calls in flight per account, so that about IN_FLIGHT are in flight in all.
    let each = IN_FLIGHT.div_ceil(accounts);
    let in_flight = each * accounts;

    let rss_before = rss_mib();
    let started = Instant::now();
    let created = raw_loop(
        emulator,
        &sessions,
        each,
        Duration::from_secs(3600),
        move |i| {
            let i = usize::try_from(i).ok().filter(|i| *i < per_account)?;
            Some(("/createStream", create_body(i)))
        },
    )
    .await?;
    let elapsed = started.elapsed();
    println!(
        "  CreateStream x{created} over raw HTTP ({in_flight} in flight): {:.1} s, {:.0} creates/s",
        elapsed.as_secs_f64(),
        created as f64 / elapsed.as_secs_f64()
    );
    let rss_after = rss_mib();
    println!(
        "  RSS: {rss_before:.1} MiB before, {rss_after:.1} MiB after: {:.0} bytes per stream \
         (call log included)",
        (rss_after - rss_before) * 1024.0 * 1024.0 / created as f64
    );

    let page_size = per_account.min(PAGE);
    let list_body = format!("{{\"MaxResults\":{PAGE}}}");
    let mut raw = RawClient::connect(emulator, &sessions[0]).await?;
    let mut timings = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let (status, length) = raw.post("/listStreams", &list_body).await?;
        timings.push(started.elapsed());
        bytes = length;
        if status != 200 {
            return Err(format!("ListStreams answered {status}").into());
        }
    }
    print_timings(
        &format!(
            "ListStreams page of {page_size} over raw HTTP ({} KiB)",
            bytes / 1024
        ),
        &mut timings,
    );
    let (_, first, _) = &tenants[0];
    let mut timings = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let page = first.list_streams().max_results(PAGE as i32).send().await?;
        timings.push(started.elapsed());
        assert_page(page.stream_info_list().len(), page_size)?;
    }
    print_timings(
        &format!("ListStreams page of {page_size} via the SDK"),
        &mut timings,
    );
    let started = Instant::now();
    let mut listed = 0;
    for (_, kvs, _) in &tenants {
        let mut pages = kvs
            .list_streams()
            .max_results(PAGE as i32)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            listed += page?.stream_info_list().len();
        }
    }
    println!(
        "  ListStreams of every account via the SDK ({listed} streams in pages of {PAGE}): \
         {:.1} ms",
        millis(started.elapsed())
    );

    // Random streams of every account, without quotas and with the per-stream quotas on
    // (one bucket per stream; account quotas raised so that nothing is throttled).
    let names: Vec<String> = (0..per_account).map(stream_name).collect();
    let mut sdk_calls = 0;
    let workers = tenants.iter().map(|(_, kvs, _)| {
        let (kvs, names) = (kvs.clone(), names.clone());
        tokio::spawn(async move { describe_loop(&kvs, &names, each, duration).await })
    });
    for worker in join_all(workers).await {
        sdk_calls += worker??;
    }
    println!(
        "  DescribeStream of random streams via the SDK, {in_flight} in flight: {:.0} requests/s",
        sdk_calls as f64 / duration.as_secs_f64()
    );
    for quotas in [false, true] {
        emulator.update_settings(|s| {
            s.quotas.enabled = quotas;
            for tps in s.quotas.account_tps.values_mut() {
                *tps = 1_000_000;
            }
        })?;
        let calls = raw_loop(emulator, &sessions, each, duration, move |_| {
            let name = stream_name(fastrand::usize(..per_account));
            Some(("/describeStream", format!("{{\"StreamName\":\"{name}\"}}")))
        })
        .await?;
        println!(
            "  DescribeStream of random streams over raw HTTP, {in_flight} in flight, quotas {}: \
             {:.0} requests/s",
            if quotas { "on" } else { "off" },
            calls as f64 / duration.as_secs_f64()
        );
    }
    let throttled: u64 = tenants
        .iter()
        .map(|(account, _, _)| {
            emulator
                .calls_of_in(account, REGION, Operation::DescribeStream)
                .errors_of("ClientLimitExceededException")
        })
        .sum();
    let log = emulator.call_log();
    println!(
        "  call log: {} records kept (capacity {}), newest seq {}; throttled describes {throttled}",
        log.len(),
        emulator.settings().log.capacity,
        log.last().map_or(0, |r| r.seq)
    );
    let account = &tenants[0].0;
    let started = Instant::now();
    let snapshot = emulator.streams_in(account, REGION);
    println!(
        "  in-process streams_in() of one account ({} streams): {:.1} ms",
        snapshot.len(),
        millis(started.elapsed())
    );
    let started = Instant::now();
    let found = emulator
        .stream_in(account, REGION, &stream_name(per_account / 2))
        .is_some();
    println!(
        "  in-process stream_in() of one stream (found: {found}): {:.3} ms",
        millis(started.elapsed())
    );
    Ok(())
}

fn create_body(i: usize) -> String {
    format!(
        "{{\"StreamName\":\"{}\",\"DeviceName\":\"bench-device\",\"MediaType\":\"video/h264\",\
         \"DataRetentionInHours\":24,\"Tags\":{{\"kvs-operator.dev/owner\":\"bench/cam\"}}}}",
        stream_name(i)
    )
}

fn print_timings(what: &str, timings: &mut [Duration]) {
    timings.sort();
    println!(
        "  {what}: min {:.1} ms, median {:.1} ms",
        millis(timings[0]),
        millis(timings[timings.len() / 2])
    );
}

fn assert_page(got: usize, expected: usize) -> BenchResult<()> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("a ListStreams page held {got} streams, expected {expected}").into())
    }
}

fn stream_name(i: usize) -> String {
    format!("cam-{i:06}")
}

fn base_credentials() -> Credentials {
    Credentials::new("AKIDBENCH", "SECRET", None, None, "bench")
}

fn client(emulator: &Running, credentials: Credentials) -> Client {
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(emulator.url())
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// An AssumeRole session in `account`, asked for with the base credentials.
async fn assume(emulator: &Running, account: &str) -> BenchResult<Session> {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .credentials_provider(base_credentials())
            .endpoint_url(emulator.url())
            .build(),
    );
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/bench"))
        .role_session_name("bench")
        .send()
        .await?;
    let creds = out
        .credentials()
        .ok_or("AssumeRole answered no credentials")?;
    Ok(Session {
        key: creds.access_key_id().to_owned(),
        secret: creds.secret_access_key().to_owned(),
        token: creds.session_token().to_owned(),
    })
}

/// Runs `concurrency` loops describing streams of `names` (chosen at random) for
/// `duration`; returns the calls completed.
async fn describe_loop(
    kvs: &Client,
    names: &[String],
    concurrency: usize,
    duration: Duration,
) -> BenchResult<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let names: Arc<[String]> = names.into();
    let workers = (0..concurrency).map(|_| {
        let (kvs, done, names) = (kvs.clone(), done.clone(), names.clone());
        tokio::spawn(async move {
            while Instant::now() < deadline {
                let name = &names[fastrand::usize(..names.len())];
                kvs.describe_stream().stream_name(name).send().await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, aws_sdk_kinesisvideo::Error>(())
        })
    });
    for worker in join_all(workers).await {
        worker??;
    }
    Ok(done.load(Ordering::Relaxed))
}

/// The resident set size of this process, from /proc (0 where there is none).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Temporary credentials of one account.
#[derive(Clone)]
struct Session {
    key: String,
    secret: String,
    token: String,
}

impl Session {
    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.key,
            &self.secret,
            Some(self.token.clone()),
            None,
            "bench",
        )
    }
}

/// A minimal keep-alive HTTP/1.1 client sending signed-looking KVS requests, so the
/// emulator, not an SDK, is what is measured (the emulator does not verify signatures).
struct RawClient {
    stream: TcpStream,
    host: String,
    head: String,
    buffer: Vec<u8>,
}

impl RawClient {
    async fn connect(emulator: &Running, session: &Session) -> BenchResult<RawClient> {
        let stream = TcpStream::connect(emulator.local_addr()).await?;
        stream.set_nodelay(true)?;
        let head = format!(
            "Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/{REGION}/kinesisvideo/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=00\r\n\
             X-Amz-Date: 20260101T000000Z\r\nX-Amz-Security-Token: {}\r\n\
             Content-Type: application/json\r\n",
            session.key, session.token
        );
        Ok(RawClient {
            stream,
            host: emulator.local_addr().to_string(),
            head,
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// POSTs `body` to `path`; answers the status and the body's length.
    async fn post(&mut self, path: &str, body: &str) -> BenchResult<(u16, usize)> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\n{}Content-Length: {}\r\n\r\n{body}",
            self.host,
            self.head,
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await?;
        self.buffer.clear();
        let head_end = loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                break end + 4;
            }
            self.read_more().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or("no status line")?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or("no content-length")?;
        while self.buffer.len() < head_end + length {
            self.read_more().await?;
        }
        Ok((status, length))
    }

    async fn read_more(&mut self) -> BenchResult<()> {
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            return Err("the emulator closed the connection".into());
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Runs `connections` raw clients per session until `duration` has passed or
/// `request(i)` (i counting each session's calls) answers `None`; every answer must be
/// 200. Answers the calls made.
async fn raw_loop(
    emulator: &Running,
    sessions: &[Session],
    connections: usize,
    duration: Duration,
    request: impl Fn(u64) -> Option<(&'static str, String)> + Send + Sync + Clone + 'static,
) -> BenchResult<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut workers = Vec::new();
    for session in sessions {
        let next = Arc::new(AtomicU64::new(0));
        for _ in 0..connections {
            let mut raw = RawClient::connect(emulator, session).await?;
            let (done, next, request) = (done.clone(), next.clone(), request.clone());
            workers.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let Some((path, body)) = request(next.fetch_add(1, Ordering::Relaxed)) else {
                        return Ok(());
                    };
                    let (status, _) = raw.post(path, &body).await?;
                    if status != 200 {
                        return Err(format!("{path} answered {status}").into());
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, Box<dyn Error + Send + Sync>>(())
            }));
        }
    }
    for worker in join_all(workers).await {
        worker??;
    }
    Ok(done.load(Ordering::Relaxed))
}
