//! Running kubectl, helm and other programs against a control plane.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::plane::ControlPlane;

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// `Err(Error::Command)` with stderr unless the command succeeded.
    pub fn check(self) -> Result<Output> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::Command {
                command: self.command,
                status: self.status,
                stdout: self.stdout,
                stderr: self.stderr,
            })
        }
    }
}

impl ControlPlane {
    /// A command wired to this control plane: `KUBECONFIG` is the admin
    /// kubeconfig, the bin directory comes first on `PATH`, and kubectl's and
    /// helm's caches and config live in the plane's directory, not in `$HOME`.
    /// Killed when dropped.
    pub fn command(&self, program: impl AsRef<OsStr>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(program);
        let mut path = OsString::from(self.bin_dir());
        if let Some(inherited) = std::env::var_os("PATH") {
            path.push(":");
            path.push(inherited);
        }
        let dir = self.dir();
        command
            .env("KUBECONFIG", self.kubeconfig_path())
            .env("PATH", path)
            .env("KUBECACHEDIR", dir.join("kube-cache"))
            .env("HELM_CACHE_HOME", dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", dir.join("helm/config"))
            .env("HELM_DATA_HOME", dir.join("helm/data"))
            .kill_on_drop(true);
        command
    }

    /// Runs the built kubectl as admin. A non-zero exit is not an error here:
    /// see [`Output::check`].
    pub async fn kubectl<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_tool("kubectl", args, None).await
    }

    /// [`ControlPlane::kubectl`] with `stdin` piped in, e.g. `apply -f -`.
    pub async fn kubectl_with_stdin<I, S>(
        &self,
        args: I,
        stdin: impl Into<Vec<u8>>,
    ) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_tool("kubectl", args, Some(stdin.into())).await
    }

    /// Runs the built helm against this control plane.
    pub async fn helm<I, S>(&self, args: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_tool("helm", args, None).await
    }

    async fn run_tool<I, S>(&self, tool: &str, args: I, stdin: Option<Vec<u8>>) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command(self.bin_dir().join(tool));
        command.args(args);
        run(command, stdin).await
    }
}

/// Runs `command` to completion, feeding `stdin` while collecting the output.
pub async fn run(mut command: tokio::process::Command, stdin: Option<Vec<u8>>) -> Result<Output> {
    let line = describe(command.as_std());
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| Error::io(format!("running `{line}`"), e))?;
    let pipe = child.stdin.take();
    let feed = async move {
        if let (Some(mut pipe), Some(data)) = (pipe, stdin) {
            // The program may exit without reading it all; its output says why.
            let _ = pipe.write_all(&data).await;
        }
    };
    let ((), output) = tokio::join!(feed, child.wait_with_output());
    let output = output.map_err(|e| Error::io(format!("waiting for `{line}`"), e))?;
    Ok(Output {
        command: line,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn describe(command: &std::process::Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(command.get_args().map(|a| a.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}
