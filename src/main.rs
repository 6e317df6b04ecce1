use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;

use kvs_operator::cli::{
    self, Command, CrdArgs, ImportArgs, OutputFormat, PlanArgs, RunArgs, StatusArgs,
};
use kvs_operator::engine::context::{Context, Settings};
use kvs_operator::engine::run as engine;
use kvs_operator::engine::shards::{Election, Shards};
use kvs_operator::import::ImportOptions;
use kvs_operator::kvs::gate::Gated;
use kvs_operator::kvs::sdk::SdkKinesisVideo;
use kvs_operator::metrics::Metrics;
use kvs_operator::server::{self, Endpoint, Liveness};
use kvs_operator::tenancy::accounts::{self, Accounts};
use kvs_operator::{Error, api, fleet, telemetry};

/// jemalloc rather than glibc's malloc: with the reflector's objects, watch events and
/// reconciles allocating from many threads, glibc kept far more of the heap's peak
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at start: a background thread hands pages freed for a
/// second back to the kernel, so memory falls after a burst even when the operator then
/// rests and allocates nothing (by default, unused pages are returned only as later
/// allocations happen, after ten seconds). jemalloc reads the symbol as a C string: a
/// thin pointer to bytes ending in NUL (the array's length is checked by the compiler).
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static JEMALLOC_OPTIONS: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[tokio::main]
async fn main() -> ExitCode {
    let command = match cli::parse_args(std::env::args_os().collect()) {
        Ok(command) => command,
        Err(error) => error.exit(),
    };
    // Several crates enable rustls providers; pick one explicitly so TLS never has to guess.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let done = |r: Result<(), Error>| r.map(|()| ExitCode::SUCCESS);
    let result = match command {
        Command::Crd(args) => done(print_crd(args)),
        Command::Import(args) => done(import(args).await),
        Command::Run(args) => done(run(*args).await),
        Command::Plan(args) => plan(args).await,
        Command::Status(args) => done(status(args).await),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kvs-operator: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A client from the kubeconfig (or the pod's account), and its default namespace.
async fn kube_client() -> Result<(kube::Client, String), Error> {
    let config = kube::Config::infer()
        .await
        .map_err(|e| Error::Config(format!("no usable kubeconfig: {e}")))?;
    let namespace = config.default_namespace.clone();
    Ok((kube::Client::try_from(config)?, namespace))
}

/// `plan`: exit 0 (no changes), 2 (changes) or 1 (error), as `terraform plan
/// -detailed-exitcode`.
async fn plan(args: PlanArgs) -> Result<ExitCode, Error> {
    use kvs_operator::plan::{self, cluster::ClusterView, manifests, render};
    let documents = manifests::read(&args.files, || std::io::read_to_string(std::io::stdin()))?;
    let (cluster, namespace) = if args.offline {
        let cluster_id = args.tenancy.cluster_id.clone().ok_or_else(|| {
            Error::Config("--offline needs --cluster-id: ownership is judged by it".into())
        })?;
        let namespace = args.namespace.clone().unwrap_or_else(|| "default".into());
        (ClusterView::offline(cluster_id), namespace)
    } else {
        let (client, default) = kube_client().await.map_err(|e| {
            Error::Config(format!(
                "{e}; plan with --offline to read nothing from the cluster"
            ))
        })?;
        let namespace = args.namespace.clone().unwrap_or(default);
        let namespaces = plan::namespaces_of(&documents, &namespace);
        let cluster =
            ClusterView::read(client, &namespaces, args.tenancy.cluster_id.clone()).await?;
        (cluster, namespace)
    };
    let accounts = Accounts::from_env(accounts::Settings {
        quota_share: 1.0,
        tag_cache_age: Duration::ZERO,
        tag_audit_share: 1.0,
        call_timeout: Duration::from_secs(30),
        session_name: session_name(&format!("plan-{}", cluster.cluster_id)),
        retry_failed_after: Duration::from_secs(60),
        metrics: None,
        shards: Arc::new(Shards::single()),
    })
    .await?;
    let options = plan::Options {
        namespace,
        require_account_binding: args.tenancy.require_account_binding,
        unbound_adoption: args.tenancy.unbound_adoption,
        prune: args.prune.then(|| args.selector.clone()).flatten(),
    };
    let world = plan::World {
        cluster: &cluster,
        accounts: &accounts,
        options: &options,
    };
    let planned = plan::plan(documents, &world).await;
    match args.output {
        OutputFormat::Text => print!("{}", render::text(&planned)),
        OutputFormat::Json => println!("{}", render::json(&planned)),
    }
    Ok(ExitCode::from(planned.exit_code()))
}

/// `status`: the fleet on one screen.
async fn status(args: StatusArgs) -> Result<(), Error> {
    let (client, _) = kube_client().await?;
    let rows = fleet::rows(&client, args.namespace.as_deref()).await?;
    match args.output {
        OutputFormat::Text => print!("{}", fleet::text(&rows)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::Config(format!("cannot render the status: {e}")))?
        ),
    }
    Ok(())
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
        kind: args.kind,
        observe_only: args.observe_only,
    };
    print!("{}", kvs_operator::import::import(&kvs, &options).await?);
    Ok(())
}

fn print_crd(args: CrdArgs) -> Result<(), Error> {
    let Some(dir) = args.out_dir else {
        print!("{}", api::crd_yaml()?);
        return Ok(());
    };
    for (file, yaml) in api::crds()? {
        let path = dir.join(file);
        std::fs::write(&path, yaml)
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

async fn run(args: RunArgs) -> Result<(), Error> {
    telemetry::init(args.log_format);
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let client = kube::Client::try_default().await?;
    let metrics = Metrics::shared();
    let identity = args.identity.clone().unwrap_or_else(default_identity);
    let cluster_id = match &args.tenancy.cluster_id {
        Some(id) => id.clone(),
        None => default_cluster_id(&client).await?,
    };
    let shards = Arc::new(match args.leader_elect {
        true => {
            let namespace = args.leader_election_namespace.clone().ok_or_else(|| {
                Error::Config(
                    "--leader-elect needs --leader-election-namespace (or POD_NAMESPACE)".into(),
                )
            })?;
            Shards::elected(Election {
                client: client.clone(),
                namespace,
                id: args.leader_election_id.clone(),
                identity: identity.clone(),
                timing: args.lease_timing()?,
            })
        }
        false => Shards::single(),
    });
    let accounts = Accounts::from_env(accounts::Settings {
        quota_share: args.aws_quota_share,
        // Trusted until the audit reads them fresh (what the operator writes stays exact).
        tag_cache_age: args.tag_audit_period.mul_f64(2.0),
        tag_audit_share: args.tag_audit_share,
        call_timeout: args.aws_call_timeout,
        session_name: session_name(&cluster_id),
        retry_failed_after: Duration::from_secs(60),
        metrics: Some(metrics.clone()),
        shards: shards.clone(),
    })
    .await?;
    let settings = Settings {
        resync_period: args.resync_period,
        poll_interval: args.poll_interval,
        drift_scan_interval: (!args.drift_scan_interval.is_zero())
            .then_some(args.drift_scan_interval),
        tag_audit_period: args.tag_audit_period,
        concurrency: args.concurrency,
        instance: Some(identity.clone()),
        cluster_id: cluster_id.clone(),
        require_account_binding: args.tenancy.require_account_binding,
        unbound_adoption: args.tenancy.unbound_adoption,
        namespaces: args.watched_namespaces(),
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        Arc::new(accounts),
        shards.clone(),
        metrics.clone(),
        settings,
    ));
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

    let namespaces = ctx.settings.namespaces.clone();
    engine::check_crds_installed(&client, &namespaces).await?;
    endpoint.ready.store(true, Ordering::Relaxed);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), %identity, %cluster_id, ?namespaces, "kvs-operator started");

    // Supervised, so that /healthz (served on its own task) fails once it has died.
    let controller = run_sharded(ctx, shutdown.clone());
    let result = server::supervise(&endpoint, "the controller", controller, &shutdown).await;
    shutdown.cancel();
    let _ = server.await;
    result
}

/// How long reconciles in flight may take to finish after SIGTERM.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// Reconciles while holding shards: all of them without leader election, those assigned
/// to this replica with it. Losing the membership (cut off from the API server) stops the
/// process with an error; every fence has closed by then. On shutdown the shards' Leases
/// are renewed until the reconciles in flight end, then released.
async fn run_sharded(ctx: Arc<Context>, shutdown: CancellationToken) -> Result<(), Error> {
    let shards = ctx.shards.clone();
    let woken = ctx.clone();
    shards.on_acquired(move |shard| {
        let ctx = woken.clone();
        tokio::spawn(async move { ctx.reconcile_shard(&shard).await });
    });
    let draining = CancellationToken::new();
    let existing = ctx.clone();
    let mut holding = tokio::spawn(
        shards
            .clone()
            .run(move || existing.shard_names(), draining.clone()),
    );
    let controller = engine::run(ctx.clone(), shutdown.clone());
    // Reconciles in flight get this long after SIGTERM (the chart's grace period is 30 s).
    let drained = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN_LIMIT).await;
        tracing::warn!(
            ?DRAIN_LIMIT,
            "reconciles still in flight after SIGTERM; stopping anyway"
        );
    };
    tokio::select! {
        () = async { tokio::select! { () = controller => {}, () = drained => {} } } => {
            // Let go of the shards only once nothing reconciles any more.
            draining.cancel();
            let _ = holding.await;
            Ok(())
        }
        held = &mut holding => match held {
            Ok(Err(lost)) => Err(lost),
            _ => Ok(()),
        },
    }
}

/// The default cluster id: the UID of the kube-system namespace, which lives as long as
/// the cluster and differs between clusters.
async fn default_cluster_id(client: &kube::Client) -> Result<String, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let kube_system = namespaces.get_metadata("kube-system").await.map_err(|e| {
        Error::Config(format!(
            "cannot read the kube-system namespace for the default cluster id ({e}); grant get on namespaces or pass --cluster-id"
        ))
    })?;
    kube_system.metadata.uid.ok_or_else(|| {
        Error::Config("the kube-system namespace has no UID; pass --cluster-id".into())
    })
}

/// The STS session name of assumed roles: names this operator and cluster in CloudTrail,
/// within STS's 64 characters of `[\w+=,.@-]`.
fn session_name(cluster_id: &str) -> String {
    let cluster: String = cluster_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    format!("kvs-operator-{cluster}")
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
