//! Child processes that cannot outlive the test binary.
//!
//! Each child asks the kernel for SIGKILL when its parent *thread* dies
//! (`PR_SET_PDEATHSIG`). Tests run on short-lived threads and runtimes, so all
//! children are spawned from one dedicated thread that lives as long as the
//! process: a shared control plane survives any one test, yet dies with the
//! test binary even if that is killed without running any destructor.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::error::{Error, Result};

/// How long a process gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send>;

/// A running child process (etcd, kube-apiserver, or anything a test starts with
/// [`Process::start`]), its output going to a log file. Dropping it stops it.
#[derive(Debug)]
pub struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(
        name: &'static str,
        program: &Path,
        args: Vec<String>,
        log: &Path,
    ) -> Result<Process> {
        let mut command = Command::new(program);
        command.args(&args);
        Process::start(name, command, log)
    }

    /// Starts `command` with stdin closed and stdout and stderr appended to `log`. Like the
    /// control plane, it dies with the test binary even when that is killed, so a process
    /// shared by all tests of a binary may be started by any one of them.
    pub fn start(name: &'static str, mut command: Command, log: &Path) -> Result<Process> {
        let log_err = |e| Error::io(format!("creating {}", log.display()), e);
        let stdout = File::create(log).map_err(log_err)?;
        let stderr = stdout.try_clone().map_err(log_err)?;
        let child = on_spawner_thread(move || {
            command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
            die_with_parent(&mut command);
            command.spawn()
        })
        .map_err(|e| Error::io(format!("starting {name}"), e))?;
        Ok(Process {
            name,
            child,
            log: log.to_path_buf(),
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The exit status if the process has already died.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL after a grace period; always reaps. Idempotent.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = rustix::process::kill_process(Pid::from_child(&self.child), Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `job` on the process-lifetime spawner thread and returns its result.
fn on_spawner_thread<F>(job: F) -> io::Result<Child>
where
    F: FnOnce() -> io::Result<Child> + Send + 'static,
{
    static SPAWNER: OnceLock<io::Result<Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("kvs-testenv-spawner".into())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })
            .map(|_| jobs)
    });
    let spawner = spawner
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("spawner thread: {e}")))?;
    let (reply, result) = mpsc::sync_channel(1);
    spawner
        .send(Box::new(move || {
            let _ = reply.send(job());
        }))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("spawner thread dropped the job"))?
}

/// Makes the child receive SIGKILL when the spawning thread exits.
fn die_with_parent(command: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: runs between fork and exec; it only makes two syscalls and
    // builds an io::Error from an errno, none of which allocates or locks.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The parent may have died before the signal was armed.
            if rustix::process::getppid() != Some(parent) {
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}

/// The last `lines` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 64 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}
