use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use kvs_operator::cli::{Cli, Command, ImportArgs, RunArgs};
use kvs_operator::controller::{self, Context, Settings};
use kvs_operator::import::ImportOptions;
use kvs_operator::kvs::gate::Gated;
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::kvs::tag_cache::TagCached;
use kvs_operator::leader::{LeaderElector, LeaseTiming};
use kvs_operator::metrics::Metrics;
use kvs_operator::server::{self, Endpoint, Liveness};
use kvs_operator::{Error, api, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Several crates enable rustls providers; pick one explicitly so TLS never has to guess.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Crd => print_crd(),
        Command::Import(args) => import(args).await,
        Command::Run(args) => run(*args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kvs-operator: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn import(args: ImportArgs) -> Result<(), Error> {
    let kvs = Gated::new(
        SdkKinesisVideo::from_env(Duration::from_secs(30)).await,
        1.0,
        None,
    );
    let options = ImportOptions {
        prefix: args.prefix,
        namespace: args.namespace,
        deletion_policy: args.deletion_policy,
    };
    print!("{}", kvs_operator::import::import(&kvs, &options).await?);
    Ok(())
}

fn print_crd() -> Result<(), Error> {
    print!("{}", api::crd_yaml()?);
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init(args.log_format);
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let client = kube::Client::try_default().await?;
    let metrics = Metrics::shared();
    let sdk = SdkKinesisVideo::from_env(args.aws_call_timeout).await;
    let gated = Gated::new(sdk, args.aws_quota_share, Some(metrics.clone()));
    // Entries expire before the next resync comes round, so each resync reads the tags.
    let kvs = Arc::new(TagCached::new(gated, args.resync_period.mul_f64(0.8)));
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let settings = Settings {
        resync_period: args.resync_period,
        poll_interval: args.poll_interval,
        drift_scan_interval: (!args.drift_scan_interval.is_zero())
            .then_some(args.drift_scan_interval),
        concurrency: args.concurrency,
        instance: Some(identity.clone()),
    };
    let ctx = Arc::new(Context::new(client.clone(), kvs, metrics.clone(), settings));
    let endpoint = Arc::new(Endpoint {
        context: ctx.clone(),
        ready: false.into(),
        liveness: Liveness::default(),
    });
    let server = server::bind(
        args.metrics_bind_address,
        endpoint.clone(),
        shutdown.clone(),
    )
    .await?;
    let server = tokio::spawn(server);

    let namespaces = args.watched_namespaces();
    controller::check_crd_installed(&client, &namespaces).await?;
    endpoint.ready.store(true, Ordering::Relaxed);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), %identity, ?namespaces, "kvs-operator started");

    // The controller runs on a task of its own, so that /healthz can tell when it has died.
    let controller = if args.leader_elect {
        let namespace = args.leader_election_namespace.clone().ok_or_else(|| {
            Error::Config(
                "--leader-elect needs --leader-election-namespace (or POD_NAMESPACE)".into(),
            )
        })?;
        let timing = LeaseTiming::for_duration(args.leader_election_lease_duration);
        let elector = LeaderElector::new(
            client,
            &namespace,
            &args.leader_election_id,
            &identity,
            timing,
        );
        tokio::spawn(lead_then_run(elector, ctx, namespaces, shutdown.clone()))
    } else {
        metrics.set_leader(true);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            controller::run(ctx, &namespaces, shutdown).await;
            Ok(())
        })
    };
    let result = server::supervise(&endpoint, "the controller", controller, &shutdown).await;
    shutdown.cancel();
    let _ = server.await;
    result
}

/// Waits for leadership, then reconciles while renewing it. Losing the Lease stops the
/// process at once with an error: another replica may already be mutating.
async fn lead_then_run(
    mut elector: LeaderElector,
    ctx: Arc<Context>,
    namespaces: Vec<String>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    if !elector.acquire(&shutdown).await? {
        return Ok(());
    }
    ctx.metrics.set_leader(true);
    let controller = controller::run(ctx.clone(), &namespaces, shutdown.clone());
    tokio::pin!(controller);
    let result = tokio::select! {
        () = &mut controller => Ok(()),
        held = elector.hold(&shutdown) => match held {
            // Shutting down: let the reconciles in flight finish before handing over.
            Ok(()) => {
                controller.await;
                Ok(())
            }
            Err(lost) => Err(lost),
        },
    };
    ctx.metrics.set_leader(false);
    if result.is_ok() {
        elector.release().await;
    }
    result
}

/// A name for this replica when POD_NAME is not set: the host name and the process id.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "kvs-operator".to_string());
    format!("{host}-{}", std::process::id())
}

/// Cancels `shutdown` on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
async fn cancel_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
