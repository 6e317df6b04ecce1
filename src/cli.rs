//! Command-line interface: every `run` flag has an environment fallback, so the same binary
//! is configured by flags locally and by env in a Deployment.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::{Adoption, DeletionPolicy};
use crate::import::ImportKind;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "kvs-operator",
    version,
    about = "Kinesis Video Streams managed from Kubernetes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller. AWS region, credentials and endpoint come from the standard AWS
    /// chain (environment, profile, IRSA web identity, EKS Pod Identity; AWS_ENDPOINT_URL).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions (VideoStream, SignalingChannel, AccountBinding) as YAML.
    Crd(CrdArgs),
    /// Print VideoStream manifests that adopt existing streams (all whose name begins with
    /// the prefix), to put streams made elsewhere under GitOps. Changes nothing at AWS.
    Import(ImportArgs),
    /// Show the KVS calls applying VideoStream and SignalingChannel manifests would make,
    /// marking the destructive ones. Reads AWS and the cluster, changes nothing. Exit code
    /// 0: no changes, 2: changes (or refusals), 1: error.
    Plan(PlanArgs),
    /// The VideoStreams and SignalingChannels on one screen, counted by namespace, kind
    /// and condition reason.
    Status(StatusArgs),
}

/// `kubectl kvs ...`: the same binary installed as the kubectl plugin `kubectl-kvs`.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl kvs",
    bin_name = "kubectl kvs",
    version,
    about = "kvs-operator's plan and status, as a kubectl plugin"
)]
pub struct Plugin {
    #[command(subcommand)]
    pub command: PluginCommand,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show the KVS calls applying the manifests would make (exit 0: none, 2: some, 1: error).
    Plan(PlanArgs),
    /// The VideoStreams and SignalingChannels on one screen.
    Status(StatusArgs),
}

/// The name the binary has as a kubectl plugin.
pub const PLUGIN_NAME: &str = "kubectl-kvs";

/// Parses the command line: as `kubectl kvs` when the program is called `kubectl-kvs`
/// (kubectl runs plugins by that name), as `kvs-operator` otherwise.
pub fn parse_args(args: Vec<std::ffi::OsString>) -> Result<Command, clap::Error> {
    let program = args
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if program == PLUGIN_NAME {
        return Ok(match Plugin::try_parse_from(args)?.command {
            PluginCommand::Plan(args) => Command::Plan(args),
            PluginCommand::Status(args) => Command::Status(args),
        });
    }
    Ok(Cli::try_parse_from(args)?.command)
}

/// Text for people, JSON for tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// The operator's tenancy flags: `run` acts by them, `plan` plans by them.
#[derive(Debug, Clone, Args)]
pub struct TenancyArgs {
    /// This cluster's identity, written as the `kvs-operator.dev/cluster` tag on every
    /// stream it creates; a stream is ours only when it matches. Default: the UID of the
    /// kube-system namespace. Give every cluster sharing an AWS account its own.
    #[arg(long, env = "KVS_OPERATOR_CLUSTER_ID")]
    pub cluster_id: Option<String>,

    /// Refuse new VideoStreams and SignalingChannels in namespaces that no AccountBinding
    /// selects (NoAccountBinding), instead of serving them with the operator's own AWS
    /// identity. What such objects already own is still reconciled and cleaned up.
    #[arg(long, env = "KVS_OPERATOR_REQUIRE_ACCOUNT_BINDING")]
    pub require_account_binding: bool,

    /// Whether objects in namespaces that no AccountBinding selects may adopt existing
    /// resources (`adoptExisting: true`): Forbidden (the default) or Allowed. Any namespace
    /// editor could otherwise take over, and then delete, a stream made outside Kubernetes
    /// or released with deletionPolicy Retain.
    #[arg(long, env = "KVS_OPERATOR_UNBOUND_ADOPTION", default_value = "Forbidden", value_parser = parse_adoption)]
    pub unbound_adoption: Adoption,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifests: a file, a directory (its .yaml, .yml and .json files) or - (standard
    /// input). Repeatable.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<String>,

    /// The namespace of manifests that name none. Default: the kubeconfig's, else default.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,

    /// Read nothing from the cluster: plan as if no AccountBinding selected any namespace
    /// and no object existed yet. Needs --cluster-id.
    #[arg(long)]
    pub offline: bool,

    /// Also plan the deletion of the live objects --selector selects in the manifests'
    /// namespaces that the manifests no longer hold (what a prune deletes).
    #[arg(long, requires = "selector", conflicts_with = "offline")]
    pub prune: bool,

    /// Label selector of the objects a prune may delete, as kubectl's -l.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,

    #[command(flatten)]
    pub tenancy: TenancyArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this namespace. Default: all namespaces.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub out_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Import the streams and channels whose name begins with this ("" for all).
    #[arg(long)]
    pub prefix: String,

    /// Which kinds to import: all, VideoStream or SignalingChannel.
    #[arg(long, value_parser = parse_import_kind, default_value = "all")]
    pub kind: ImportKind,

    /// Write ObserveOnly manifests: they fill the status and never change or adopt
    /// anything, so they may also watch resources that others own.
    #[arg(long)]
    pub observe_only: bool,

    /// Namespace written into the manifests.
    #[arg(long)]
    pub namespace: Option<String>,

    /// Deletion policy written into the manifests.
    #[arg(long, value_parser = parse_deletion_policy, default_value = "Retain")]
    pub deletion_policy: DeletionPolicy,
}

fn parse_import_kind(value: &str) -> Result<ImportKind, String> {
    match value {
        "all" => Ok(ImportKind::All),
        "VideoStream" => Ok(ImportKind::VideoStream),
        "SignalingChannel" => Ok(ImportKind::SignalingChannel),
        other => Err(format!(
            "{other}: expected all, VideoStream or SignalingChannel"
        )),
    }
}

fn parse_deletion_policy(value: &str) -> Result<DeletionPolicy, String> {
    match value {
        "Retain" => Ok(DeletionPolicy::Retain),
        "Delete" => Ok(DeletionPolicy::Delete),
        other => Err(format!("{other}: expected Retain or Delete")),
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Namespaces to watch, comma-separated; all namespaces when empty.
    #[arg(
        long,
        env = "KVS_OPERATOR_NAMESPACES",
        value_delimiter = ',',
        default_value = ""
    )]
    pub namespaces: Vec<String>,

    /// How often an in-sync VideoStream is checked again: against its account's latest
    /// ListStreams pass, at no AWS cost (a full comparison when drift scans are off).
    #[arg(long, env = "KVS_OPERATOR_RESYNC_PERIOD", default_value = "10m", value_parser = positive_duration)]
    pub resync_period: Duration,

    /// How often one ListStreams pass per account looks for changes made outside
    /// Kubernetes; 0s disables (then every resync is a full comparison).
    #[arg(long, env = "KVS_OPERATOR_DRIFT_SCAN_INTERVAL", default_value = "5m", value_parser = humantime::parse_duration)]
    pub drift_scan_interval: Duration,

    /// How often each stream's tags (which ListStreams does not show) are read fresh.
    #[arg(long, env = "KVS_OPERATOR_TAG_AUDIT_PERIOD", default_value = "6h", value_parser = positive_duration)]
    pub tag_audit_period: Duration,

    /// Share (0 to 1) of an account's ListTagsForStream quota that tag audits may use; the
    /// audit period stretches when the account has more streams than that allows.
    #[arg(long, env = "KVS_OPERATOR_TAG_AUDIT_SHARE", default_value_t = 0.2, value_parser = quota_share, allow_negative_numbers = true)]
    pub tag_audit_share: f64,

    /// How soon to look again after a change or while a stream is busy.
    #[arg(long, env = "KVS_OPERATOR_POLL_INTERVAL", default_value = "2s", value_parser = positive_duration)]
    pub poll_interval: Duration,

    /// Objects reconciled at once, per kind and watched namespace (one controller each;
    /// with every namespace watched, per kind). At least 1.
    #[arg(long, env = "KVS_OPERATOR_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,

    /// Fraction of the published KVS API quotas the operator may use (1.0 = all of them).
    #[arg(long, env = "KVS_OPERATOR_AWS_QUOTA_SHARE", default_value_t = 1.0, value_parser = quota_share, allow_negative_numbers = true)]
    pub aws_quota_share: f64,

    /// Timeout of one AWS API call, retries included.
    #[arg(long, env = "KVS_OPERATOR_AWS_CALL_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub aws_call_timeout: Duration,

    /// Log format.
    #[arg(
        long,
        env = "KVS_OPERATOR_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Address of the HTTP endpoint serving /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "KVS_OPERATOR_METRICS_BIND_ADDRESS",
        default_value = "0.0.0.0:8080"
    )]
    pub metrics_bind_address: SocketAddr,

    /// Elect a leader through a Lease, so that of several replicas only one reconciles.
    #[arg(long, env = "KVS_OPERATOR_LEADER_ELECT")]
    pub leader_elect: bool,

    /// Namespace of the leader election Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,

    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "KVS_OPERATOR_LEADER_ELECTION_ID",
        default_value = "kvs-operator"
    )]
    pub leader_election_id: String,

    /// How long a leader's Lease lasts without renewal; another replica takes over after it.
    #[arg(long, env = "KVS_OPERATOR_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = positive_duration)]
    pub leader_election_lease_duration: Duration,

    /// How long the leader keeps mutating AWS without a successful renew (default: 2/3 of
    /// the lease duration). Must be shorter than the lease duration.
    #[arg(long, env = "KVS_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE", value_parser = humantime::parse_duration)]
    pub leader_election_renew_deadline: Option<Duration>,

    /// How often the leader renews and a follower retries (default: 2/15 of the lease
    /// duration). Must be shorter than the renew deadline.
    #[arg(long, env = "KVS_OPERATOR_LEADER_ELECTION_RETRY_PERIOD", value_parser = humantime::parse_duration)]
    pub leader_election_retry_period: Option<Duration>,

    #[command(flatten)]
    pub tenancy: TenancyArgs,

    /// This replica's name in Events and the Lease (the pod name in a Deployment).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
}

/// `Allowed` or `Forbidden`, as an AccountBinding's `spec.adoption` says it.
fn parse_adoption(value: &str) -> Result<Adoption, String> {
    match value {
        "Allowed" => Ok(Adoption::Allowed),
        "Forbidden" => Ok(Adoption::Forbidden),
        other => Err(format!("{other:?} is neither Allowed nor Forbidden")),
    }
}

/// A duration that must be longer than zero: a zero poll interval, resync period or call
/// timeout would make the operator spin (or give up on every call) instead of waiting.
fn positive_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be longer than 0s".to_string());
    }
    Ok(duration)
}

/// The fraction of the published KVS quotas to use: more than 0 (a zero rate would never
/// call at all) and at most 1 (AWS throttles beyond its quotas).
fn quota_share(value: &str) -> Result<f64, String> {
    let share: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value} is not a number"))?;
    if share > 0.0 && share <= 1.0 {
        Ok(share)
    } else {
        Err("must be a fraction of the KVS quotas, greater than 0 and at most 1".to_string())
    }
}

impl RunArgs {
    /// The Lease timing the flags ask for, checked.
    pub fn lease_timing(&self) -> crate::Result<crate::engine::leader::LeaseTiming> {
        let mut timing =
            crate::engine::leader::LeaseTiming::for_duration(self.leader_election_lease_duration);
        if let Some(deadline) = self.leader_election_renew_deadline {
            timing.renew_deadline = deadline;
        }
        if let Some(retry) = self.leader_election_retry_period {
            timing.retry_period = retry;
        }
        timing.validate()?;
        Ok(timing)
    }

    /// The namespaces to watch, without empty entries.
    pub fn watched_namespaces(&self) -> Vec<String> {
        self.namespaces
            .iter()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> RunArgs {
        let cli = Cli::try_parse_from(["kvs-operator", "run"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Run(args) => *args,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn defaults_watch_everything_with_ten_minute_resync() {
        let args = run_args(&[]);
        assert!(args.watched_namespaces().is_empty());
        assert_eq!(args.resync_period, Duration::from_secs(600));
        assert_eq!(args.drift_scan_interval, Duration::from_secs(300));
        assert_eq!(args.tag_audit_period, Duration::from_secs(6 * 3600));
        assert_eq!(args.tag_audit_share, 0.2);
    }

    #[test]
    fn flags_parse_namespaces_and_durations() {
        let args = run_args(&[
            "--namespaces=a, b",
            "--resync-period=90s",
            "--log-format=json",
            "--concurrency=4",
        ]);
        assert_eq!(args.watched_namespaces(), ["a", "b"]);
        assert_eq!(args.resync_period, Duration::from_secs(90));
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.concurrency, 4);
    }

    /// clap's message for a refused `run` flag.
    fn refusal(args: &[&str]) -> String {
        let argv = ["kvs-operator", "run"].iter().chain(args);
        match Cli::try_parse_from(argv) {
            Ok(cli) => panic!("{args:?} accepted: {cli:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn quota_shares_outside_zero_to_one_are_refused_with_the_range() {
        for flag in ["--aws-quota-share", "--tag-audit-share"] {
            for share in ["0", "-0.5", "1.5", "NaN", "half"] {
                let message = refusal(&[flag, share]);
                assert!(
                    message.contains(&format!("invalid value '{share}' for '{flag}")),
                    "{message}"
                );
            }
        }
        assert!(refusal(&["--aws-quota-share=0"]).contains("greater than 0 and at most 1"));
        assert_eq!(run_args(&["--aws-quota-share=0.25"]).aws_quota_share, 0.25);
        assert_eq!(run_args(&["--aws-quota-share=1"]).aws_quota_share, 1.0);
    }

    #[test]
    fn zero_intervals_that_would_spin_are_refused() {
        for flag in [
            "--poll-interval",
            "--resync-period",
            "--tag-audit-period",
            "--aws-call-timeout",
            "--leader-election-lease-duration",
        ] {
            for zero in ["0s", "0ms", "0m0s"] {
                let message = refusal(&[&format!("{flag}={zero}")]);
                assert!(
                    message.contains(&format!("invalid value '{zero}' for '{flag}"))
                        && message.contains("must be longer than 0s"),
                    "{message}"
                );
            }
        }
        // Zero still disables the drift scan, as documented.
        assert!(
            run_args(&["--drift-scan-interval=0s"])
                .drift_scan_interval
                .is_zero()
        );
        assert_eq!(
            run_args(&["--poll-interval=300ms"]).poll_interval,
            Duration::from_millis(300)
        );
    }

    #[test]
    fn import_defaults_to_retain() {
        let cli = Cli::try_parse_from(["kvs-operator", "import", "--prefix", "site-"]).unwrap();
        let Command::Import(args) = cli.command else {
            panic!("not import");
        };
        assert_eq!(args.prefix, "site-");
        assert_eq!(args.deletion_policy, DeletionPolicy::Retain);
        let bad = Cli::try_parse_from([
            "kvs-operator",
            "import",
            "--prefix=x",
            "--deletion-policy=Drop",
        ]);
        assert!(bad.is_err());
    }

    #[test]
    fn leader_election_is_off_unless_asked_for() {
        assert!(!run_args(&[]).leader_elect);
        let args = run_args(&["--leader-elect", "--leader-election-namespace=ops"]);
        assert!(args.leader_elect);
        assert_eq!(args.leader_election_namespace.as_deref(), Some("ops"));
        assert_eq!(args.leader_election_lease_duration, Duration::from_secs(15));
        assert_eq!(args.metrics_bind_address.port(), 8080);
        let timing = args.lease_timing().unwrap();
        assert_eq!(timing.renew_deadline, Duration::from_secs(10));
        assert_eq!(timing.retry_period, Duration::from_secs(2));
    }

    #[test]
    fn a_renew_deadline_not_shorter_than_the_lease_is_refused() {
        let args = run_args(&[
            "--leader-election-lease-duration=10s",
            "--leader-election-renew-deadline=10s",
        ]);
        let error = args.lease_timing().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("lease duration > renew deadline"),
            "{error}"
        );
    }

    #[test]
    fn tenancy_flags_default_to_the_quick_start() {
        let args = run_args(&[]);
        assert_eq!(args.tenancy.cluster_id, None);
        assert!(!args.tenancy.require_account_binding);
        assert_eq!(args.tenancy.unbound_adoption, Adoption::Forbidden);
        assert_eq!(
            run_args(&["--unbound-adoption=Allowed"])
                .tenancy
                .unbound_adoption,
            Adoption::Allowed
        );
        assert!(Cli::try_parse_from(["kvs-operator", "run", "--unbound-adoption=yes"]).is_err());
        assert!(
            Cli::try_parse_from(["kvs-operator", "run", "--concurrency=0"]).is_err(),
            "zero would reconcile nothing"
        );
        let args = run_args(&["--cluster-id=prod-eu", "--require-account-binding"]);
        assert_eq!(args.tenancy.cluster_id.as_deref(), Some("prod-eu"));
        assert!(args.tenancy.require_account_binding);
    }

    fn parsed(args: &[&str]) -> Result<Command, clap::Error> {
        parse_args(args.iter().map(std::ffi::OsString::from).collect())
    }

    #[test]
    fn plan_takes_the_run_flags_that_decide_tenancy() {
        let Ok(Command::Plan(args)) = parsed(&[
            "kvs-operator",
            "plan",
            "-f",
            "a.yaml",
            "-f",
            "-",
            "-o",
            "json",
            "--cluster-id=prod-eu",
            "--require-account-binding",
        ]) else {
            panic!("not a plan");
        };
        assert_eq!(args.files, ["a.yaml", "-"]);
        assert_eq!(args.output, OutputFormat::Json);
        assert_eq!(args.tenancy.cluster_id.as_deref(), Some("prod-eu"));
        assert!(args.tenancy.require_account_binding);
        assert!(parsed(&["kvs-operator", "plan"]).is_err(), "-f is required");
        assert!(
            parsed(&["kvs-operator", "plan", "-f", "x", "--prune"]).is_err(),
            "a prune needs a selector"
        );
    }

    #[test]
    fn called_kubectl_kvs_it_is_the_kubectl_plugin() {
        let plugin = parsed(&["/usr/local/bin/kubectl-kvs", "status", "-n", "cameras"]);
        assert!(
            matches!(&plugin, Ok(Command::Status(s)) if s.namespace.as_deref() == Some("cameras")),
            "{plugin:?}"
        );
        assert!(matches!(
            parsed(&["kubectl-kvs", "plan", "-f", "dir/"]),
            Ok(Command::Plan(_))
        ));
        // The operator's own commands are not the plugin's.
        assert!(parsed(&["kubectl-kvs", "run"]).is_err());
        assert!(matches!(
            parsed(&["kvs-operator", "status"]),
            Ok(Command::Status(_))
        ));
    }
}
