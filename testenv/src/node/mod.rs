//! A one-node cluster: the control plane plus kube-controller-manager, kube-scheduler
//! and a node — containerd, the kubelet and kube-proxy — in network, mount and PID
//! namespaces of its own, so pods really run.
//!
//! The node is one `unshare` whose child, `init.sh`, is PID 1 of the node's PID
//! namespace. Stopping it kills every process of the node (containers included), which
//! frees its mount namespace (every mount) and its network namespace (the pods'
//! namespaces, the bridge, kube-proxy's rules, the veth pair). What remains is removed
//! here: the kubelet's cgroups and the node's directory.

mod config;
mod link;
mod tools;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Node, ServiceAccount};
use kube::api::Api;
use rustix::process::{Pid, Signal};

use crate::error::{Error, Result};
use crate::kubeconfig;
use crate::pki::{self, Issued};
use crate::plane::ControlPlane;
use crate::ports::free_loopback_ports;
use crate::process::{Process, tail};

pub use config::NODE_NAME;
use link::Link;
pub use tools::{NODE_BIN_DIR_ENV, NodeTools};

const INIT_SCRIPT: &str = include_str!("init.sh");
const IMPORT_SCRIPT: &str = include_str!("import.sh");

/// Starting containers and registering the node takes a while on two busy cores.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the node gets to stop its processes after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// A control plane with a node that runs pods. Dropping it stops everything and removes
/// everything it made.
#[derive(Debug)]
pub struct NodeCluster {
    plane: ControlPlane,
    link: Link,
    dir: PathBuf,
    socket: PathBuf,
    cgroup_root: String,
    running: Mutex<Option<Components>>,
}

/// What must be stopped, in this order: the node, then the controllers.
#[derive(Debug)]
struct Components {
    node: NodeProcess,
    scheduler: Process,
    controller_manager: Process,
}

impl NodeCluster {
    /// Starts the control plane, the controllers and the node, and waits until the node
    /// is Ready and the controller-manager has made the `default` ServiceAccount.
    pub async fn start() -> Result<NodeCluster> {
        let tools = NodeTools::find()?;
        let link = Link::claim()?;
        let plane = ControlPlane::builder()
            .for_node(link.host_ip())
            .start()
            .await?;
        let dir = plane.dir().join("node");
        let socket = dir.join("containerd.sock");
        let cgroup_root = format!("kvs-node-{}", link.slot());
        // A node of a killed run may have left this slot's cgroups.
        remove_cgroups(&cgroup_root);
        for sub in ["logs", "cni", "kubelet", "containerd"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        }
        let cluster_files = ClusterFiles {
            plane: &plane,
            dir: &dir,
        };
        cluster_files.write_node_files(&tools, &link, &socket, &cgroup_root)?;

        let controller_manager = cluster_files.start_controller_manager(&tools)?;
        let scheduler = cluster_files.start_scheduler(&tools)?;
        let node = NodeProcess::start(&dir, &link)?;
        let cluster = NodeCluster {
            plane,
            link,
            dir,
            socket,
            cgroup_root,
            running: Mutex::new(Some(Components {
                node,
                scheduler,
                controller_manager,
            })),
        };
        cluster.wait_until_ready().await?;
        Ok(cluster)
    }

    /// The control plane: kubectl, helm, clients, the audit log.
    pub fn plane(&self) -> &ControlPlane {
        &self.plane
    }

    /// The address pods reach this machine at: serve what pods must call (an emulator)
    /// here. It is on a veth link to the node, not on any outside network.
    pub fn host_address(&self) -> Ipv4Addr {
        self.link.host_ip()
    }

    /// The node's address (its InternalIP).
    pub fn node_address(&self) -> Ipv4Addr {
        self.link.node_ip()
    }

    /// The node's directory: configuration and `logs/` (containerd, kubelet, kube-proxy,
    /// controller-manager, scheduler, the node's init).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Imports an OCI archive into the node's containerd as `reference`, which must be
    /// `base_name:<the archive's tag>` — e.g. an image pods use with `imagePullPolicy:
    /// Never`.
    pub async fn import_image(
        &self,
        archive: &Path,
        base_name: &str,
        reference: &str,
    ) -> Result<()> {
        let mut command = tokio::process::Command::new("bash");
        command
            .arg(self.dir.join("import.sh"))
            .arg(archive)
            .arg(base_name)
            .arg(reference)
            .env("CONTAINERD_SOCKET", &self.socket)
            .kill_on_drop(true);
        crate::commands::run(command, None).await?.check()?;
        Ok(())
    }

    async fn wait_until_ready(&self) -> Result<()> {
        let client = self.plane.kube_client().await?;
        let nodes: Api<Node> = Api::all(client.clone());
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        let config_maps: Api<ConfigMap> = Api::namespaced(client, "default");
        let started = Instant::now();
        let mut last = String::from("not registered");
        loop {
            self.check_running()?;
            let node = nodes.get_opt(NODE_NAME).await.ok().flatten();
            let ready = node
                .as_ref()
                .and_then(|n| n.status.as_ref()?.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
            if let Some(ready) = ready {
                last = format!(
                    "Ready={}: {}",
                    ready.status,
                    ready.message.clone().unwrap_or_default()
                );
            }
            let account = accounts.get_opt("default").await.ok().flatten();
            let root_ca = config_maps.get_opt("kube-root-ca.crt").await.ok().flatten();
            if ready.is_some_and(|c| c.status == "True") && account.is_some() && root_ca.is_some() {
                tracing::info!(
                    "node {NODE_NAME} ready in {:.1?} ({})",
                    started.elapsed(),
                    self.dir.display()
                );
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(Error::Node(format!(
                    "{NODE_NAME} not ready within {READY_TIMEOUT:?} ({last}, default ServiceAccount {}, \
                     kube-root-ca.crt {})\n{}",
                    account.is_some(),
                    root_ca.is_some(),
                    self.log_tails()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Fails, quoting the logs, if any component has exited.
    fn check_running(&self) -> Result<()> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(components) = running.as_mut() else {
            return Err(Error::Node("the cluster was stopped".into()));
        };
        for process in [
            &mut components.node.unshare,
            &mut components.scheduler,
            &mut components.controller_manager,
        ] {
            if let Some(status) = process.exited() {
                return Err(Error::Node(format!(
                    "{} exited with {status}\n{}",
                    process.name(),
                    self.log_tails()
                )));
            }
        }
        Ok(())
    }

    fn log_tails(&self) -> String {
        [
            "node",
            "containerd",
            "kubelet",
            "kube-proxy",
            "kube-controller-manager",
            "kube-scheduler",
        ]
        .iter()
        .map(|name| {
            let log = self.dir.join(format!("logs/{name}.log"));
            format!("--- end of {} ---\n{}", log.display(), tail(&log, 15))
        })
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// Stops the node, then the controllers and the control plane, and removes the
    /// node's cgroups; later calls do nothing.
    pub(crate) fn shutdown(&self) {
        let components = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(components) = components {
            drop(components.node);
            remove_cgroups(&self.cgroup_root);
            drop(components.scheduler);
            drop(components.controller_manager);
        }
        self.link.remove();
        self.plane.shutdown();
    }
}

impl Drop for NodeCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Writes what the node and the controllers read.
struct ClusterFiles<'a> {
    plane: &'a ControlPlane,
    dir: &'a Path,
}

impl ClusterFiles<'_> {
    fn write(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.dir.join(name);
        pki::write(&path, contents)?;
        Ok(path)
    }

    /// A kubeconfig for `user` (in `groups`), with a client certificate from the CA.
    fn kubeconfig(&self, name: &str, user: &str, groups: &[&str]) -> Result<PathBuf> {
        let issued = self.plane.authority().client(user, groups)?;
        let credentials = self.plane.credentials_for(issued);
        self.write(name, &kubeconfig::render(&credentials, None))
    }

    fn write_node_files(
        &self,
        tools: &NodeTools,
        link: &Link,
        socket: &Path,
        cgroup_root: &str,
    ) -> Result<()> {
        let ca_cert = self.plane.ca_cert();
        let layout = config::Layout {
            dir: self.dir,
            link,
            socket,
            pause_ref: &tools.pause_ref,
            ca_cert: &ca_cert,
        };
        // The Node authorizer knows a kubelet by this user and group.
        let node_user = format!("system:node:{NODE_NAME}");
        self.kubeconfig("kubelet.kubeconfig", &node_user, &["system:nodes"])?;
        let Issued { cert_pem, key_pem } =
            self.plane
                .authority()
                .server(NODE_NAME, &config::kubelet_ips(link), &[NODE_NAME])?;
        self.write("kubelet.crt", &cert_pem)?;
        self.write("kubelet.key", &key_pem)?;
        // The bootstrap RBAC binds system:node-proxier to this user.
        self.kubeconfig("kube-proxy.kubeconfig", "system:kube-proxy", &[])?;
        self.write("containerd.toml", &layout.containerd())?;
        self.write("cni/10-kvs.conflist", &layout.cni())?;
        self.write("kubelet.yaml", &layout.kubelet(cgroup_root))?;
        self.write("kube-proxy.yaml", &layout.kube_proxy())?;
        // No cluster DNS and no way off the machine: pods get no name servers.
        self.write("resolv.conf", "")?;
        self.write(
            "node.env",
            &layout.env(&tools.bin_dir, cgroup_root, &tools.pause_tar),
        )?;
        for (name, script) in [("init.sh", INIT_SCRIPT), ("import.sh", IMPORT_SCRIPT)] {
            let path = self.write(name, script)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Service accounts and their tokens, Deployments and ReplicaSets, garbage
    /// collection, namespace deletion, the disruption budget: the default controllers,
    /// each with its own ServiceAccount's credentials as in a real cluster.
    fn start_controller_manager(&self, tools: &NodeTools) -> Result<Process> {
        let kubeconfig = self.kubeconfig(
            "kube-controller-manager.kubeconfig",
            "system:kube-controller-manager",
            &[],
        )?;
        let [port] = free_loopback_ports()?;
        let kubeconfig = kubeconfig.display().to_string();
        let pki = self.plane.dir().join("pki");
        let args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            "--leader-elect=false".into(),
            "--use-service-account-credentials=true".into(),
            format!(
                "--service-account-private-key-file={}",
                pki.join("sa.key").display()
            ),
            format!("--root-ca-file={}", pki.join("ca.crt").display()),
            format!("--service-cluster-ip-range={}", crate::plane::SERVICE_CIDR),
        ];
        Process::spawn(
            "kube-controller-manager",
            &tools.bin_dir.join("kube-controller-manager"),
            args,
            &self.dir.join("logs/kube-controller-manager.log"),
        )
    }

    fn start_scheduler(&self, tools: &NodeTools) -> Result<Process> {
        let kubeconfig =
            self.kubeconfig("kube-scheduler.kubeconfig", "system:kube-scheduler", &[])?;
        let [port] = free_loopback_ports()?;
        let kubeconfig = kubeconfig.display().to_string();
        let args = vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            "--leader-elect=false".into(),
        ];
        Process::spawn(
            "kube-scheduler",
            &tools.bin_dir.join("kube-scheduler"),
            args,
            &self.dir.join("logs/kube-scheduler.log"),
        )
    }
}

/// The node's `unshare` and the host pid of its init (PID 1 inside).
#[derive(Debug)]
struct NodeProcess {
    unshare: Process,
    init: u32,
}

impl NodeProcess {
    fn start(dir: &Path, link: &Link) -> Result<NodeProcess> {
        let args = [
            "--fork",
            "--pid",
            "--mount-proc",
            "--propagation",
            "private",
            "--net",
            // If unshare dies (with the test binary), so does the node.
            "--kill-child",
            "/bin/bash",
        ]
        .map(String::from)
        .into_iter()
        .chain([
            dir.join("init.sh").display().to_string(),
            dir.join("node.env").display().to_string(),
        ])
        .collect();
        let mut unshare = Process::spawn(
            "node",
            Path::new("/usr/bin/unshare"),
            args,
            &dir.join("logs/node.log"),
        )?;
        let init = wait_for_child(&mut unshare)?;
        let node = NodeProcess { unshare, init };
        // The init waits for this link before it starts anything.
        link.attach(init)?;
        Ok(node)
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        // unshare ignores SIGTERM; the init stops the node's processes, then exits.
        if let Some(pid) = Pid::from_raw(self.init as i32) {
            let _ = rustix::process::kill_process(pid, Signal::TERM);
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && self.unshare.exited().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SIGKILL if it is still there: --kill-child takes the node with it.
        self.unshare.stop();
    }
}

/// The pid of the only child of `unshare --fork`.
fn wait_for_child(unshare: &mut Process) -> Result<u32> {
    let pid = unshare.pid();
    let children = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = unshare.exited() {
            return Err(Error::Node(format!(
                "unshare exited with {status}: {}",
                tail(unshare.log(), 20)
            )));
        }
        let listed = std::fs::read_to_string(&children).unwrap_or_default();
        if let Some(child) = listed
            .split_whitespace()
            .next()
            .and_then(|c| c.parse().ok())
        {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::Node("unshare started no child".into()))
}

/// Removes the cgroup `root` and everything below it in every hierarchy, deepest first.
/// Cgroups whose last process just died can stay busy for a moment: retried briefly.
fn remove_cgroups(root: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let tops: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|h| h.path().join(root))
        .filter(|p| p.is_dir())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    for top in tops {
        while top.exists() && Instant::now() < deadline {
            remove_tree(&top);
            if top.exists() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if top.exists() {
            tracing::warn!("cannot remove cgroup {}", top.display());
        }
    }
}

/// rmdir of `dir`'s subdirectories, then of `dir` (cgroup files cannot be deleted, and
/// need not be: rmdir of a cgroup takes them along).
fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}
