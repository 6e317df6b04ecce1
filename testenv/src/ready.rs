//! Waiting for etcd and kube-apiserver to serve.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::process::{Process, tail};

const POLL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 40;

/// Polls `probe` until it succeeds, the process dies, or `timeout` passes since
/// `started`. Failures carry the tail of the process's log.
pub(crate) async fn wait_for<F, Fut>(
    process: &mut Process,
    started: Instant,
    timeout: Duration,
    mut probe: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    loop {
        if let Some(status) = process.exited() {
            return Err(startup_error(
                process,
                timeout,
                format!("exited with {status}"),
            ));
        }
        let last = match probe().await {
            Ok(()) => return Ok(()),
            Err(last) => last,
        };
        if started.elapsed() >= timeout {
            return Err(startup_error(
                process,
                timeout,
                format!("not ready: {last}"),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn startup_error(process: &Process, timeout: Duration, reason: String) -> Error {
    Error::Startup {
        process: process.name(),
        timeout,
        reason,
        log: process.log().to_path_buf(),
        log_tail: tail(process.log(), LOG_TAIL_LINES),
    }
}

/// etcd's /health over plain HTTP; a raw request keeps an HTTP client out of the deps.
pub(crate) async fn etcd_health(port: u16) -> Result<(), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| "GET /health timed out".to_string())?
        .map_err(|e| format!("GET /health: {e}"))?;
    if response.contains(r#""health":"true""#) {
        Ok(())
    } else {
        Err(format!("GET /health answered: {response}"))
    }
}

/// kube-apiserver's /readyz, which passes once etcd, RBAC bootstrap and the
/// other post-start hooks are done.
pub(crate) async fn apiserver_ready(client: &kube::Client) -> Result<(), String> {
    let request = http::Request::get("/readyz")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match client.request_text(request).await {
        Ok(body) if body.trim() == "ok" => Ok(()),
        Ok(body) => Err(body),
        Err(e) => Err(e.to_string()),
    }
}
