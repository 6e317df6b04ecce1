use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while starting or driving a control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Tests must fail, not skip, when the binaries were never built.
    #[error(
        "control-plane binary {path} is missing: run `hack/control-plane.sh build` \
         (or point KVS_TESTENV_BIN_DIR at a directory with etcd, kube-apiserver, kubectl and helm)"
    )]
    MissingBinary { path: PathBuf },

    /// The node mode's binaries, images or Debian packages are not all there.
    #[error(
        "the node mode is not installed (missing: {}): run `hack/node.sh install && hack/node.sh build`",
        missing.join(", ")
    )]
    MissingNodeTools { missing: Vec<String> },

    /// Setting up or running the node failed.
    #[error("node: {0}")]
    Node(String),

    #[error("cannot find the control-plane cache: neither KVS_CACHE_DIR nor HOME is set")]
    NoCacheDir,

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("generating certificates: {0}")]
    Certificate(#[from] rcgen::Error),

    /// A process died or never became ready; `log_tail` is the end of its log.
    #[error(
        "{process} failed to start within {timeout:?}: {reason}\n--- end of {log} ---\n{log_tail}"
    )]
    Startup {
        process: &'static str,
        timeout: Duration,
        reason: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    #[error("kube client: {0}")]
    Kube(#[from] kube::Error),

    /// A command ran but exited non-zero.
    #[error("`{command}` failed ({status}):\n{stderr}{stdout}")]
    Command {
        command: String,
        status: std::process::ExitStatus,
        stdout: String,
        stderr: String,
    },

    /// The shared node cluster of this test binary could not be started.
    #[error("the shared node cluster failed to start: {0}")]
    SharedNode(String),

    /// The shared control plane of this test binary could not be started.
    #[error("the shared control plane failed to start: {0}")]
    Shared(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
