use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use kvs_operator::api;
use kvs_operator::cli::{Cli, Command, RunArgs};
use kvs_operator::controller::{self, Context, Settings};
use kvs_operator::kvs::rate_limit::RateLimited;
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::{Error, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Several crates enable rustls providers; pick one explicitly so TLS never has to guess.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Crd => print_crd(),
        Command::Run(args) => run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kvs-operator: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_crd() -> Result<(), Error> {
    print!("{}", api::crd_yaml()?);
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init(args.log_format);
    let client = kube::Client::try_default().await?;
    let sdk = SdkKinesisVideo::from_env(args.aws_call_timeout).await;
    let kvs = Arc::new(RateLimited::new(sdk, args.aws_quota_share));
    let settings = Settings {
        resync_period: args.resync_period,
        poll_interval: args.poll_interval,
        drift_scan_interval: (!args.drift_scan_interval.is_zero())
            .then_some(args.drift_scan_interval),
        concurrency: args.concurrency,
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context::new(client, kvs, settings));
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "kvs-operator starting");
    controller::run(ctx, &args.watched_namespaces()).await
}
