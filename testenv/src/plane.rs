//! Starting and stopping one etcd + kube-apiserver pair, as envtest does.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::binaries::{Binaries, default_bin_dir};
use crate::client::client_from_kubeconfig;
use crate::error::{Error, Result};
use crate::kubeconfig::{self, Credentials};
use crate::ports::free_loopback_ports;
use crate::process::Process;
use crate::{pki, ready, workdir};

/// Generous: both servers may boot while other tests compile on two cores.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// Free ports can be taken between probing and binding; that is worth a retry.
const START_ATTEMPTS: usize = 3;

/// Process ids of the two servers, for checks that nothing outlives a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pids {
    pub etcd: u32,
    pub kube_apiserver: u32,
}

/// Options for [`ControlPlane::builder`].
#[derive(Debug, Clone)]
pub struct ControlPlaneBuilder {
    bin_dir: Option<PathBuf>,
    startup_timeout: Duration,
    apiserver_args: Vec<String>,
    node_address: Option<Ipv4Addr>,
}

impl ControlPlaneBuilder {
    /// Take the binaries from `dir` instead of [`default_bin_dir`].
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// How long starting both servers may take in all (default 90 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// An extra kube-apiserver flag such as `--feature-gates=...`; later flags win.
    pub fn apiserver_arg(mut self, arg: impl Into<String>) -> Self {
        self.apiserver_args.push(arg.into());
        self
    }

    /// For a cluster with a node (see `NodeCluster`): the API server serves on `address`
    /// (which pods can reach) instead of loopback and advertises it for the `kubernetes`
    /// Service, authorizes kubelets with the Node authorizer, admits pods with their
    /// ServiceAccount, reaches kubelets with a client certificate, and writes an audit log
    /// of every request made by a ServiceAccount.
    pub(crate) fn for_node(mut self, address: Ipv4Addr) -> Self {
        self.node_address = Some(address);
        self
    }

    /// Starts etcd and kube-apiserver and waits until the apiserver is ready.
    pub async fn start(self) -> Result<ControlPlane> {
        let bin_dir = match &self.bin_dir {
            Some(dir) => dir.clone(),
            None => default_bin_dir()?,
        };
        let binaries = Binaries::in_dir(&bin_dir)?;
        let mut attempt = 1;
        loop {
            match self.start_once(&binaries).await {
                Err(e) if attempt < START_ATTEMPTS && is_port_clash(&e) => {
                    tracing::warn!("control plane lost a port race, retrying: {e}");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(&self, binaries: &Binaries) -> Result<ControlPlane> {
        let started = Instant::now();
        let workdir = workdir::create()?;
        let dir = workdir.path().to_path_buf();
        let pki_dir = dir.join("pki");
        std::fs::create_dir(&pki_dir)
            .map_err(|e| Error::io(format!("creating {}", pki_dir.display()), e))?;
        let extra_ips: Vec<IpAddr> = self.node_address.map(IpAddr::V4).into_iter().collect();
        let pki = pki::generate(&pki_dir, &extra_ips)?;
        let [etcd_port, peer_port, api_port] = free_loopback_ports()?;

        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let mut etcd = Process::spawn(
            "etcd",
            &binaries.path("etcd"),
            etcd_args(&dir.join("etcd"), &etcd_url, peer_port),
            &dir.join("etcd.log"),
        )?;
        ready::wait_for(&mut etcd, started, self.startup_timeout, || {
            ready::etcd_health(etcd_port)
        })
        .await?;

        let address = self.node_address.unwrap_or(Ipv4Addr::LOCALHOST);
        let server = format!("https://{address}:{api_port}");
        let mut args = apiserver_args(&pki, &pki_dir, &etcd_url, api_port, &server);
        match self.node_address {
            Some(address) => args.extend(node_mode_args(&pki, &pki_dir, &dir, address)?),
            None => args.extend([
                "--authorization-mode=RBAC".into(),
                // No controller-manager creates the default ServiceAccount it would demand.
                "--disable-admission-plugins=ServiceAccount".into(),
            ]),
        }
        args.extend(self.apiserver_args.iter().cloned());
        let mut apiserver = Process::spawn(
            "kube-apiserver",
            &binaries.path("kube-apiserver"),
            args,
            &dir.join("kube-apiserver.log"),
        )?;

        let credentials = Credentials {
            server: server.clone(),
            ca_pem: pki.ca_pem,
            cert_pem: pki.admin_cert_pem,
            key_pem: pki.admin_key_pem,
        };
        let admin_kubeconfig = kubeconfig::render(&credentials, None);
        let kubeconfig_path = dir.join("kubeconfig");
        std::fs::write(&kubeconfig_path, &admin_kubeconfig)
            .map_err(|e| Error::io(format!("writing {}", kubeconfig_path.display()), e))?;

        let probe_client = client_from_kubeconfig(&admin_kubeconfig, |config| {
            config.connect_timeout = Some(Duration::from_secs(2));
            config.read_timeout = Some(Duration::from_secs(5));
        })
        .await?;
        ready::wait_for(&mut apiserver, started, self.startup_timeout, || {
            let client = probe_client.clone();
            async move { ready::apiserver_ready(&client).await }
        })
        .await?;
        // Its background task belongs to this (maybe short-lived) runtime.
        drop(probe_client);

        tracing::info!(
            "control plane ready at {server} in {:.1?} ({})",
            started.elapsed(),
            dir.display()
        );
        Ok(ControlPlane {
            bin_dir: binaries.dir().to_path_buf(),
            dir,
            kubeconfig_path,
            admin_kubeconfig,
            credentials,
            etcd_url,
            pids: Pids {
                etcd: etcd.pid(),
                kube_apiserver: apiserver.pid(),
            },
            authority: pki.authority,
            running: Mutex::new(Some(Running {
                apiserver,
                etcd,
                workdir,
            })),
        })
    }
}

/// The Service range; its first address is [`pki::KUBERNETES_SERVICE_IP`].
pub(crate) const SERVICE_CIDR: &str = "10.0.0.0/24";

/// The audit policy of node mode: what ServiceAccounts do, without bodies.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    userGroups: [\"system:serviceaccounts\"]
  - level: None
";

/// Flags added to [`apiserver_args`] when a node joins (see
/// [`ControlPlaneBuilder::for_node`]); of single-valued flags, later ones win.
fn node_mode_args(
    pki: &pki::Pki,
    pki_dir: &Path,
    dir: &Path,
    address: Ipv4Addr,
) -> Result<Vec<String>> {
    let path = |p: &Path| p.display().to_string();
    let kubelet_client = pki
        .authority
        .client("kube-apiserver-kubelet-client", &["system:masters"])?;
    let cert = pki_dir.join("kubelet-client.crt");
    let key = pki_dir.join("kubelet-client.key");
    pki::write(&cert, &kubelet_client.cert_pem)?;
    pki::write(&key, &kubelet_client.key_pem)?;
    let policy = dir.join("audit-policy.yaml");
    pki::write(&policy, AUDIT_POLICY)?;
    Ok(vec![
        format!("--bind-address={address}"),
        format!("--advertise-address={address}"),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        format!("--kubelet-client-certificate={}", path(&cert)),
        format!("--kubelet-client-key={}", path(&key)),
        format!("--kubelet-certificate-authority={}", path(&pki.ca_cert)),
        "--kubelet-preferred-address-types=InternalIP".into(),
        format!("--audit-policy-file={}", path(&policy)),
        format!("--audit-log-path={}", path(&dir.join(AUDIT_LOG))),
        "--audit-log-format=json".into(),
        "--audit-log-maxsize=0".into(),
    ])
}

/// The file the node mode's audit log is written to, in [`ControlPlane::dir`].
const AUDIT_LOG: &str = "audit.log";

fn is_port_clash(error: &Error) -> bool {
    matches!(error, Error::Startup { log_tail, .. } if log_tail.contains("address already in use"))
}

fn etcd_args(data_dir: &Path, client_url: &str, peer_port: u16) -> Vec<String> {
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    vec![
        "--name=default".into(),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        // Explicit peer URLs, or every etcd would claim the default :2380.
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=default={peer_url}"),
        // Throwaway data: durability only costs time.
        "--unsafe-no-fsync=true".into(),
    ]
}

fn apiserver_args(
    pki: &pki::Pki,
    cert_dir: &Path,
    etcd_url: &str,
    port: u16,
    server: &str,
) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", path(cert_dir)),
        format!("--tls-cert-file={}", path(&pki.serving_cert)),
        format!("--tls-private-key-file={}", path(&pki.serving_key)),
        format!("--client-ca-file={}", path(&pki.ca_cert)),
        format!("--service-account-issuer={server}"),
        format!(
            "--service-account-key-file={}",
            path(&pki.service_account_public)
        ),
        format!(
            "--service-account-signing-key-file={}",
            path(&pki.service_account_private)
        ),
        format!("--service-cluster-ip-range={SERVICE_CIDR}"),
        "--allow-privileged=true".into(),
    ]
}

/// What must be stopped, in this order: the apiserver, etcd, then the files.
struct Running {
    apiserver: Process,
    etcd: Process,
    workdir: TempDir,
}

/// A running etcd + kube-apiserver with an admin identity. Dropping it stops
/// both servers and removes its directory, also when a test panics.
#[derive(Debug)]
pub struct ControlPlane {
    bin_dir: PathBuf,
    dir: PathBuf,
    kubeconfig_path: PathBuf,
    admin_kubeconfig: String,
    credentials: Credentials,
    etcd_url: String,
    pids: Pids,
    /// Issues the certificates of a node's components.
    authority: pki::Authority,
    running: Mutex<Option<Running>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("apiserver", &self.apiserver.pid())
            .field("etcd", &self.etcd.pid())
            .field("workdir", &self.workdir.path())
            .finish()
    }
}

impl ControlPlane {
    /// Starts a control plane with the default options.
    pub async fn start() -> Result<ControlPlane> {
        Self::builder().start().await
    }

    pub fn builder() -> ControlPlaneBuilder {
        ControlPlaneBuilder {
            bin_dir: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
            apiserver_args: Vec::new(),
            node_address: None,
        }
    }

    /// Where etcd, kube-apiserver, kubectl and helm were taken from.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The admin kubeconfig (user `admin`, group `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The scratch directory holding certificates, logs, etcd data and kubeconfigs;
    /// removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `https://127.0.0.1:<port>`.
    pub fn server_url(&self) -> &str {
        &self.credentials.server
    }

    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    pub fn pids(&self) -> Pids {
        self.pids
    }

    pub fn etcd_log(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    pub fn apiserver_log(&self) -> PathBuf {
        self.dir.join("kube-apiserver.log")
    }

    /// The audit log of a plane started for a node: one JSON event per line, for
    /// every request a ServiceAccount made. Empty otherwise.
    pub fn audit_log(&self) -> PathBuf {
        self.dir.join(AUDIT_LOG)
    }

    /// The CA certificate, e.g. for a kubelet's client-CA file.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("pki/ca.crt")
    }

    pub(crate) fn authority(&self) -> &pki::Authority {
        &self.authority
    }

    pub(crate) fn credentials_for(&self, issued: pki::Issued) -> Credentials {
        Credentials {
            server: self.credentials.server.clone(),
            ca_pem: self.credentials.ca_pem.clone(),
            cert_pem: issued.cert_pem,
            key_pem: issued.key_pem,
        }
    }

    pub(crate) fn admin_kubeconfig(&self) -> &str {
        &self.admin_kubeconfig
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Stops both servers and removes the directory; later calls do nothing.
    pub(crate) fn shutdown(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(running);
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}
