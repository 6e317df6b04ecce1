//! Argo CD on a control plane, as a user sets it up: installed with `hack/argocd.sh install`
//! (Argo CD's core-install manifests), the health check merged into argocd-cm with the
//! command docs/argocd.md gives, and its components (redis, a git daemon, the repo-server
//! and the application-controller) run as local processes by `hack/argocd.sh run`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kvs_testenv::{ControlPlane, Output, Process};
use tokio::sync::OnceCell;

use crate::common::{free_local_addr, http_get};
use crate::git::Repo;

/// How long Argo CD may take to start, or a wait on it to succeed.
pub const WAIT: Duration = Duration::from_secs(90);

/// The namespace Argo CD is installed into, and its Applications live in.
pub const NAMESPACE: &str = "argocd";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One Argo CD, its processes stopped when dropped.
pub struct ArgoCd<'a> {
    pub plane: &'a ControlPlane,
    dir: PathBuf,
    git_root: PathBuf,
    git_port: u16,
    controller_metrics: SocketAddr,
    /// In start order; stopped in reverse.
    processes: Vec<Process>,
}

/// The Argo CD of this test binary's shared control plane (where the CRD is installed),
/// once it assesses VideoStreams with our health check.
pub async fn shared() -> &'static ArgoCd<'static> {
    static SHARED: OnceCell<ArgoCd<'static>> = OnceCell::const_new();
    SHARED
        .get_or_init(|| async {
            let argocd = ArgoCd::start(crate::support::plane().await).await;
            argocd.wait_for_health_check().await;
            argocd
        })
        .await
}

impl<'a> ArgoCd<'a> {
    /// Installs Argo CD into `plane`, starts it, and installs the health check while it runs.
    pub async fn start(plane: &'a ControlPlane) -> ArgoCd<'a> {
        let dir = plane.dir().join("argocd");
        let git_root = dir.join("git");
        std::fs::create_dir_all(&git_root).expect("Argo CD directory");
        let mut install = plane.command("bash");
        install
            .arg(repo_root().join("hack/argocd.sh"))
            .arg("install");
        let out = kvs_testenv::run(install, None).await.expect("bash runs");
        assert!(
            out.success(),
            "hack/argocd.sh install failed: {}{}",
            out.stdout,
            out.stderr
        );

        let redis_port = free_local_addr().port();
        let repo_server_port = free_local_addr().port();
        let git_port = free_local_addr().port();
        let controller_metrics = free_local_addr();
        let mut argocd = ArgoCd {
            plane,
            dir,
            git_root,
            git_port,
            controller_metrics,
            processes: Vec::new(),
        };
        let ports = [
            ("ARGOCD_LOCAL_REDIS_PORT", redis_port.to_string()),
            (
                "ARGOCD_LOCAL_REPO_SERVER_PORT",
                repo_server_port.to_string(),
            ),
            ("ARGOCD_LOCAL_GIT_PORT", git_port.to_string()),
        ];
        argocd.run("redis", &ports, &[]);
        wait_for_port("redis", redis_port).await;
        argocd.run("git-daemon", &ports, &[]);
        wait_for_port("git daemon", git_port).await;
        let repo_server_metrics = free_local_addr().port().to_string();
        argocd.run(
            "repo-server",
            &ports,
            &[("ARGOCD_LOCAL_METRICS_PORT", &repo_server_metrics)],
        );
        wait_for_port("repo-server", repo_server_port).await;
        // Compare every Application with git every 10 s, so that a quiet minute holds
        // several comparisons (tests still ask for a refresh after each commit, as a
        // webhook would, rather than wait for one).
        argocd.run(
            "application-controller",
            &ports,
            &[
                (
                    "ARGOCD_LOCAL_METRICS_PORT",
                    &controller_metrics.port().to_string(),
                ),
                ("ARGOCD_LOCAL_APP_RESYNC", "10"),
            ],
        );
        argocd.wait_controller().await;

        // The health check goes in while Argo CD runs, with the command of docs/argocd.md.
        let patch = argocd
            .plane
            .kubectl([
                "-n",
                NAMESPACE,
                "patch",
                "configmap",
                "argocd-cm",
                "--type",
                "merge",
                "--patch-file",
                &repo_root()
                    .join("deploy/argocd/argocd-cm.yaml")
                    .display()
                    .to_string(),
            ])
            .await
            .expect("kubectl runs");
        assert!(
            patch.success(),
            "the docs' argocd-cm patch failed: {}",
            patch.stderr
        );
        argocd
    }

    /// Starts `hack/argocd.sh run component`, which execs the component itself.
    fn run(&mut self, component: &'static str, ports: &[(&str, String)], extra: &[(&str, &str)]) {
        let mut command = Command::new("bash");
        command
            .arg(repo_root().join("hack/argocd.sh"))
            .args(["run", component])
            .env("KUBECONFIG", self.plane.kubeconfig_path())
            .env("ARGOCD_LOCAL_DIR", self.dir.join("state"))
            .env("ARGOCD_LOCAL_GIT_ROOT", &self.git_root);
        for (key, value) in ports {
            command.env(key, value);
        }
        for (key, value) in extra {
            command.env(key, value);
        }
        let log = self.dir.join(format!("{component}.log"));
        let process = Process::start(component, command, &log)
            .unwrap_or_else(|e| panic!("{component} does not start: {e}"));
        self.processes.push(process);
    }

    async fn wait_controller(&self) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if matches!(
                http_get(self.controller_metrics, "/healthz").await,
                Some((200, _))
            ) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "the application-controller never became healthy:\n{}",
            self.log_tail("application-controller", 40)
        );
    }

    /// Waits until the health check from argocd-cm is in effect (needs the CRD): a
    /// VideoStream that no operator reconciles is Progressing with our message; without the
    /// check Argo CD would call it Healthy at once.
    async fn wait_for_health_check(&self) {
        let repo = Repo::create(self, "health-check-probe").await;
        repo.write(
            "probe.yaml",
            "apiVersion: kvs-operator.dev/v1alpha1\nkind: VideoStream\nmetadata:\n  name: probe\nspec:\n  deviceName: probe\n",
        );
        repo.commit("a VideoStream no operator watches").await;
        let app = "health-check-probe";
        let out = self
            .apply(&application(
                app,
                &repo.url(),
                "argocd-probe",
                Sync::Automated { prune: false },
            ))
            .await;
        assert!(out.success(), "probe Application: {}", out.stderr);
        let wanted = "Waiting for the operator to reconcile this VideoStream";
        self.wait_app(
            app,
            "the probe VideoStream assessed by our health check",
            |app| {
                app.resource("VideoStream", "probe")
                    .is_some_and(|r| r.health_message == wanted)
            },
        )
        .await;
    }

    /// `kubectl apply` of Argo CD objects (Applications).
    pub async fn apply(&self, yaml: &str) -> Output {
        self.plane
            .kubectl_with_stdin(["apply", "-f", "-"], yaml)
            .await
            .expect("kubectl runs")
    }

    /// git://127.0.0.1:PORT/NAME: the repository NAME under the served root.
    pub fn repo_url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.git_port)
    }

    pub fn git_root(&self) -> &Path {
        &self.git_root
    }

    /// Asks Argo CD to compare Application `app` with git now, as a git webhook does.
    pub async fn refresh(&self, app: &str) {
        let out = self
            .plane
            .kubectl([
                "-n",
                NAMESPACE,
                "annotate",
                "--overwrite",
                "application",
                app,
                "argocd.argoproj.io/refresh=normal",
            ])
            .await
            .expect("kubectl runs");
        assert!(out.success(), "refresh {app}: {}", out.stderr);
    }

    /// Application `app` as Argo CD reports it.
    pub async fn app(&self, app: &str) -> Option<AppState> {
        let out = self
            .plane
            .kubectl(["-n", NAMESPACE, "get", "application", app, "-o", "json"])
            .await
            .expect("kubectl runs");
        if !out.success() {
            return None;
        }
        let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
        Some(AppState::from(&value))
    }

    /// Polls Application `app` until `check` holds.
    pub async fn wait_app(
        &self,
        app: &str,
        what: &str,
        check: impl Fn(&AppState) -> bool,
    ) -> AppState {
        let deadline = Instant::now() + WAIT;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(state) = self.app(app).await {
                if check(&state) {
                    return state;
                }
                last = Some(state);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "Application {app} never became {what}; last seen: {last:#?}\n--- application-controller log ---\n{}",
            self.log_tail("application-controller", 30)
        );
    }

    /// Syncs of Application `app` since the controller started, from its metrics.
    pub async fn sync_count(&self, app: &str) -> u64 {
        let (_, body) = http_get(self.controller_metrics, "/metrics")
            .await
            .expect("controller metrics");
        let label = format!("name=\"{app}\"");
        body.lines()
            .filter(|line| line.starts_with("argocd_app_sync_total{") && line.contains(&label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }

    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("{component}.log"))).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for ArgoCd<'_> {
    fn drop(&mut self) {
        while let Some(mut process) = self.processes.pop() {
            process.stop();
        }
        // The repo-server locks its checkouts (mode 000 or 300) between uses; unlocked,
        // the plane's directory can be removed by a user who is not root.
        make_removable(&self.dir.join("state/tmp"));
    }
}

fn make_removable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).is_err() {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            make_removable(&entry.path());
        }
    }
}

async fn wait_for_port(what: &str, port: u16) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never listened on 127.0.0.1:{port}");
}

/// How an Application syncs.
#[derive(Debug, Clone, Copy)]
pub enum Sync {
    /// Automated, with self-heal; `prune` deletes what left git.
    Automated { prune: bool },
}

/// An Application in the style of deploy/argocd/application.yaml: the repository's root,
/// into `namespace` (created by Argo CD), retried with backoff. Pruning deletes in the
/// background: Argo CD's default, foreground deletion, is completed by the garbage collector
/// of kube-controller-manager, which the test cluster does not run (every real cluster does).
pub fn application(name: &str, repo_url: &str, namespace: &str, sync: Sync) -> String {
    let Sync::Automated { prune } = sync;
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  project: default
  source:
    repoURL: {repo_url}
    targetRevision: main
    path: .
  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
  syncPolicy:
    automated:
      prune: {prune}
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
      - PrunePropagationPolicy=background
    retry:
      limit: 5
      backoff:
        duration: 5s
        factor: 2
        maxDuration: 1m
"#
    )
}

/// What `kubectl get application -o json` says, in the terms the tests check.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    /// Synced, OutOfSync or Unknown.
    pub sync: String,
    /// The commit it compared with.
    pub revision: String,
    /// Healthy, Progressing, Degraded, Missing, ...
    pub health: String,
    pub resources: Vec<ResourceState>,
    /// The phase of the last sync operation (Running, Succeeded, Failed, ...).
    pub operation_phase: String,
    /// The last sync operation's result for each resource: (kind, name, status, message).
    pub sync_results: Vec<(String, String, String, String)>,
    /// Deployments recorded in status.history.
    pub history: usize,
    /// Conditions such as ComparisonError or SyncError: (type, message).
    pub conditions: Vec<(String, String)>,
}

/// One managed resource in the Application's status.
#[derive(Debug, Clone, Default)]
pub struct ResourceState {
    pub kind: String,
    pub name: String,
    /// Synced or OutOfSync.
    pub sync: String,
    pub health: String,
    pub health_message: String,
}

impl AppState {
    fn from(app: &serde_json::Value) -> AppState {
        let status = &app["status"];
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let resources = status["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| ResourceState {
                kind: text(&r["kind"]),
                name: text(&r["name"]),
                sync: text(&r["status"]),
                health: text(&r["health"]["status"]),
                health_message: text(&r["health"]["message"]),
            })
            .collect();
        let conditions = status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| (text(&c["type"]), text(&c["message"])))
            .collect();
        let sync_results = status["operationState"]["syncResult"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    text(&r["kind"]),
                    text(&r["name"]),
                    text(&r["status"]),
                    text(&r["message"]),
                )
            })
            .collect();
        AppState {
            sync: text(&status["sync"]["status"]),
            revision: text(&status["sync"]["revision"]),
            health: text(&status["health"]["status"]),
            resources,
            operation_phase: text(&status["operationState"]["phase"]),
            sync_results,
            history: status["history"].as_array().map_or(0, Vec::len),
            conditions,
        }
    }

    pub fn resource(&self, kind: &str, name: &str) -> Option<&ResourceState> {
        self.resources
            .iter()
            .find(|r| r.kind == kind && r.name == name)
    }

    /// Synced to `revision`, Healthy, and the last sync succeeded.
    pub fn is_synced_and_healthy_at(&self, revision: &str) -> bool {
        self.sync == "Synced"
            && self.revision == revision
            && self.health == "Healthy"
            && self.operation_phase == "Succeeded"
    }
}
