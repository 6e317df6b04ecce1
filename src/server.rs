//! The operator's HTTP endpoint: `/metrics` for Prometheus, `/healthz` and `/readyz` for
//! the kubelet's probes.
//!
//! `/healthz` is the liveness probe: it fails once a supervised task (the controller) has
//! stopped, so that a pod whose controller died is restarted instead of idling on.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::FutureExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::jiff::Timestamp;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::engine::context::Context;
use crate::metrics::OPENMETRICS_CONTENT_TYPE;
use crate::metrics::fleet::Census;
use crate::{Error, Result};

/// What the endpoint serves.
pub struct Endpoint {
    pub context: Arc<Context>,
    /// Set once the operator can do its work (the CRD is installed, the client works).
    pub ready: AtomicBool,
    /// Whether the tasks the operator needs still run.
    pub liveness: Liveness,
}

/// The liveness of the process: alive until a supervised task stops on its own.
#[derive(Debug, Default)]
pub struct Liveness {
    /// Why the process is no longer alive; `None` while it is.
    stopped: Mutex<Option<String>>,
}

impl Liveness {
    /// `Err(reason)` once a supervised task has stopped.
    pub fn check(&self) -> Result<(), String> {
        match &*self.stopped.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Ok(()),
            Some(reason) => Err(reason.clone()),
        }
    }

    fn mark_stopped(&self, reason: String) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.get_or_insert(reason);
    }
}

/// Runs the task `name`, which should run until `shutdown`. If it ends before that (by
/// returning, failing or panicking), the process is no longer alive: `/healthz` fails from
/// then on, and the result is an error that says why. A panic is caught here, on the
/// caller's task, so the task need not be `Send`.
pub async fn supervise(
    endpoint: &Endpoint,
    name: &str,
    task: impl Future<Output = Result<()>>,
    shutdown: &CancellationToken,
) -> Result<()> {
    let outcome = AssertUnwindSafe(task).catch_unwind().await;
    if shutdown.is_cancelled() {
        return outcome.map_err(|_| Error::Config(format!("{name} panicked while stopping")))?;
    }
    let (reason, error) = match outcome {
        Ok(Ok(())) => (format!("{name} stopped"), None),
        Ok(Err(error)) => (format!("{name} stopped: {error}"), Some(error)),
        Err(_) => (format!("{name} panicked"), None),
    };
    error!(reason, "the operator is no longer alive");
    endpoint.liveness.mark_stopped(reason.clone());
    Err(error.unwrap_or(Error::Config(reason)))
}

/// Binds `addr` now (so a taken port fails at startup) and serves until `shutdown`.
pub async fn bind(
    addr: SocketAddr,
    endpoint: Arc<Endpoint>,
    shutdown: CancellationToken,
) -> Result<impl Future<Output = ()>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {addr}: {e}")))?;
    info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(serve(listener, endpoint, shutdown))
}

async fn serve(listener: TcpListener, endpoint: Arc<Endpoint>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let endpoint = endpoint.clone();
                async move { Ok::<_, Infallible>(respond(&endpoint, &request)) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                debug!(%error, "metrics connection");
            }
        });
    }
}

fn respond(endpoint: &Endpoint, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into());
    }
    let alive = endpoint.liveness.check();
    match request.uri().path() {
        "/healthz" => match alive {
            Ok(()) => text(StatusCode::OK, "ok\n".into()),
            Err(reason) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
        },
        "/readyz" if alive.is_ok() && endpoint.ready.load(Ordering::Relaxed) => {
            text(StatusCode::OK, "ok\n".into())
        }
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into()),
        "/metrics" => {
            let context = &endpoint.context;
            context.metrics.set_shards_held(context.shards.held_count());
            context.observe_held();
            let census = Census::take(context, Timestamp::now());
            match context.metrics.scrape(&census) {
                Ok(body) => with_type(StatusCode::OK, body, OPENMETRICS_CONTENT_TYPE),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "encoding failed\n".into(),
                ),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; charset=utf-8")
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use std::time::Duration;

    use super::*;
    use crate::engine::context::Settings;
    use crate::engine::shards::Shards;
    use crate::metrics::Metrics;
    use crate::tenancy::accounts::{self, Accounts};

    /// An endpoint whose clients point nowhere: nothing here calls them.
    fn endpoint() -> Arc<Endpoint> {
        let kube_config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(kube_config).unwrap();
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-west-2"))
            .build();
        let shards = Arc::new(Shards::single());
        let settings = accounts::Settings {
            quota_share: 1.0,
            tag_cache_age: Duration::from_secs(60),
            tag_audit_share: 0.2,
            call_timeout: Duration::from_secs(1),
            session_name: "test".into(),
            retry_failed_after: Duration::from_secs(1),
            metrics: None,
            shards: shards.clone(),
        };
        let accounts = Arc::new(Accounts::new(aws, settings).unwrap());
        let context = Context::new(
            client,
            accounts,
            shards,
            Metrics::shared(),
            Settings::default(),
        );
        Arc::new(Endpoint {
            context: Arc::new(context),
            ready: true.into(),
            liveness: Liveness::default(),
        })
    }

    /// Serves `endpoint` on a free port until `shutdown`; its address.
    async fn serve_on_free_port(
        endpoint: Arc<Endpoint>,
        shutdown: CancellationToken,
    ) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, endpoint, shutdown));
        addr
    }

    /// GET `path`: the status line, the headers (lower-cased) and the body.
    async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let (status, headers) = head.split_once("\r\n").unwrap();
        (status.to_string(), headers.to_lowercase(), body.to_string())
    }

    #[tokio::test]
    async fn healthz_fails_once_the_controller_task_has_panicked() {
        let endpoint = endpoint();
        let shutdown = CancellationToken::new();
        let addr = serve_on_free_port(endpoint.clone(), shutdown.clone()).await;
        assert_eq!(get(addr, "/healthz").await.0, "HTTP/1.1 200 OK");

        let task = async { panic!("a bug in the controller") };
        let result = supervise(&endpoint, "the controller", task, &shutdown).await;
        assert!(
            matches!(&result, Err(Error::Config(m)) if m == "the controller panicked"),
            "{result:?}"
        );
        let (status, _, body) = get(addr, "/healthz").await;
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(body, "the controller panicked\n");
        assert_eq!(
            get(addr, "/readyz").await.0,
            "HTTP/1.1 503 Service Unavailable"
        );
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_controller_that_returns_early_is_dead_too_and_says_why() {
        let endpoint = endpoint();
        let shutdown = CancellationToken::new();
        let task = async { Err(Error::Config("the Lease was lost".into())) };
        let result = supervise(&endpoint, "the controller", task, &shutdown).await;
        assert!(matches!(&result, Err(Error::Config(m)) if m == "the Lease was lost"));
        assert_eq!(
            endpoint.liveness.check(),
            Err("the controller stopped: configuration: the Lease was lost".to_string())
        );
        let quiet = async { Ok(()) };
        assert!(
            supervise(&endpoint, "the drift scan", quiet, &shutdown)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn stopping_on_shutdown_keeps_the_process_alive() {
        let endpoint = endpoint();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = async move {
            stop.cancelled().await;
            Ok(())
        };
        shutdown.cancel();
        supervise(&endpoint, "the controller", task, &shutdown)
            .await
            .unwrap();
        assert_eq!(endpoint.liveness.check(), Ok(()));
    }

    #[tokio::test]
    async fn metrics_are_served_with_the_openmetrics_content_type() {
        let endpoint = endpoint();
        endpoint
            .context
            .metrics
            .record_reconcile("VideoStream", "success", Duration::ZERO);
        let shutdown = CancellationToken::new();
        let addr = serve_on_free_port(endpoint, shutdown.clone()).await;
        let (status, headers, body) = get(addr, "/metrics").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(
            headers.contains(
                "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"
            ),
            "{headers}"
        );
        // What makes it OpenMetrics rather than the 0.0.4 text format.
        assert!(body.ends_with("# EOF\n"), "{body}");
        assert!(
            body.contains(
                "kvs_operator_reconciles_total{kind=\"VideoStream\",outcome=\"success\"} 1"
            ),
            "{body}"
        );
        // The fleet, from the (empty) watch caches: zeros by kind, and the shard of the
        // operator's own account in its region, which a replica without election holds.
        for line in [
            "kvs_operator_objects{kind=\"VideoStream\",ready=\"Unknown\"} 0",
            "kvs_operator_objects{kind=\"AccountBinding\",ready=\"False\"} 0",
            "kvs_operator_oldest_not_ready_seconds{kind=\"SignalingChannel\"} 0",
            "kvs_operator_shard_held{shard=\"self-us-west-2\"} 1",
            "kvs_operator_leader 1",
        ] {
            assert!(body.contains(line), "missing {line}:\n{body}");
        }
        let (_, headers, _) = get(addr, "/healthz").await;
        assert!(
            headers.contains("content-type: text/plain; charset=utf-8"),
            "{headers}"
        );
        shutdown.cancel();
    }
}
