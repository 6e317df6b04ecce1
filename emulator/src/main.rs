//! `kvs-emulator`: serves the KVS control plane until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kvs_emulator::{Config, Delays, Emulator, EmulatorError, Operation, Settings};
use tracing_subscriber::EnvFilter;

/// Amazon Kinesis Video Streams control-plane emulator (rest-json over HTTP), with STS
/// (AssumeRole, GetCallerIdentity) on the same endpoint.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the ready line shows it).
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// Default region: admin reads use it; API calls act in the region they sign for.
    #[arg(long, default_value = "us-west-2")]
    region: String,
    /// Default 12-digit account: base credentials act in it unless the settings'
    /// `sts.access_keys` name another.
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// Milliseconds a new stream stays CREATING.
    #[arg(long, default_value_t = Delays::default().create.as_millis() as u64)]
    create_delay_ms: u64,
    /// Milliseconds an updated stream stays UPDATING.
    #[arg(long, default_value_t = Delays::default().update.as_millis() as u64)]
    update_delay_ms: u64,
    /// Milliseconds a deleted stream stays DELETING.
    #[arg(long, default_value_t = Delays::default().delete.as_millis() as u64)]
    delete_delay_ms: u64,
    /// Switch off every TPS quota.
    #[arg(long)]
    no_quotas: bool,
    /// Override one account quota, e.g. `--quota CreateStream=5` (repeatable).
    #[arg(long = "quota", value_name = "OPERATION=TPS", value_parser = parse_quota)]
    quotas: Vec<(Operation, u32)>,
    /// Calls per second per stream for each per-stream operation.
    #[arg(long, default_value_t = 5)]
    per_stream_tps: u32,
    /// Probability (0..=1) that an API call fails with a 500 InternalFailure.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Milliseconds added to every API call.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Answer this URL from GetDataEndpoint instead of a realistic per-stream one.
    #[arg(long)]
    data_endpoint: Option<String>,
    /// Streams allowed per account and region before AccountStreamLimitExceededException.
    #[arg(long)]
    max_streams: Option<usize>,
    /// Signaling channels allowed per account and region before
    /// AccountChannelLimitExceededException.
    #[arg(long)]
    max_channels: Option<usize>,
    /// Most recent calls the call log keeps.
    #[arg(long, default_value_t = kvs_emulator::DEFAULT_LOG_CAPACITY)]
    log_capacity: usize,
    /// Tags per ListTagsForStream and ListTagsForResource page.
    #[arg(long, default_value_t = 50)]
    tags_page_size: usize,
    /// Streams per ListStreams page and channels per ListSignalingChannels page, whatever
    /// MaxResults asks (1..=10000): small pages make clients page.
    #[arg(long, default_value_t = kvs_emulator::MAX_LIST_PAGE_SIZE)]
    list_page_size: usize,
    /// Accept tag keys starting with `aws:` (AWS refuses them).
    #[arg(long)]
    allow_reserved_tag_keys: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = kvs_emulator::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
}

fn parse_quota(text: &str) -> Result<(Operation, u32), String> {
    let (name, tps) = text
        .split_once('=')
        .ok_or_else(|| format!("expected OPERATION=TPS, got {text:?}"))?;
    let op = Operation::ALL
        .into_iter()
        .find(|op| op.name() == name)
        .ok_or_else(|| format!("unknown operation {name:?}"))?;
    let tps = tps
        .parse()
        .map_err(|err| format!("invalid TPS {tps:?}: {err}"))?;
    Ok((op, tps))
}

impl Args {
    fn into_config(self) -> Config {
        let mut settings = Settings {
            delays: Delays {
                create: Duration::from_millis(self.create_delay_ms),
                update: Duration::from_millis(self.update_delay_ms),
                delete: Duration::from_millis(self.delete_delay_ms),
            },
            data_endpoint: self.data_endpoint,
            ..Settings::default()
        };
        settings.quotas.enabled = !self.no_quotas;
        settings.quotas.per_stream_tps = self.per_stream_tps;
        settings.quotas.account_tps.extend(self.quotas);
        settings.faults.error_rate = self.error_rate;
        settings.faults.latency = Duration::from_millis(self.latency_ms);
        settings.limits.max_streams = self.max_streams;
        settings.limits.max_channels = self.max_channels;
        settings.log.capacity = self.log_capacity;
        settings.limits.tags_page_size = self.tags_page_size;
        settings.limits.list_page_size = self.list_page_size;
        settings.limits.allow_reserved_tag_keys = self.allow_reserved_tag_keys;
        Config {
            listen: self.listen,
            region: self.region,
            account_id: self.account_id,
            max_body_bytes: self.max_body_bytes,
            settings,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse().into_config()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kvs-emulator: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), EmulatorError> {
    let running = Emulator::start(config).await?;
    // The one line scripts wait for before they connect.
    println!("kvs-emulator listening on {}", running.url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_flags_parse() {
        assert_eq!(
            parse_quota("CreateStream=5"),
            Ok((Operation::CreateStream, 5))
        );
        assert!(parse_quota("Nope=5").is_err());
        assert!(parse_quota("CreateStream").is_err());
        let args = Args::parse_from([
            "kvs-emulator",
            "--create-delay-ms",
            "0",
            "--quota",
            "DescribeStream=7",
            "--no-quotas",
            "--list-page-size",
            "7",
        ]);
        let config = args.into_config();
        assert_eq!(config.listen.to_string(), "127.0.0.1:4566");
        assert_eq!(config.settings.delays.create, Duration::ZERO);
        assert!(!config.settings.quotas.enabled);
        assert_eq!(config.settings.limits.list_page_size, 7);
        assert_eq!(
            config
                .settings
                .quotas
                .account_limit(Operation::DescribeStream),
            Some(7)
        );
        config.validate().unwrap();
    }
}
