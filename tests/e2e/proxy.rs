//! A TCP proxy that can start black-holing: from then on nothing passes in either
//! direction, connections stay open and new ones are accepted and never answered — a
//! network partition as a client sees it, with requests that hang instead of failing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct BlackHoleProxy {
    addr: SocketAddr,
    holed: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl BlackHoleProxy {
    /// Forwards a free loopback port to `upstream`.
    pub async fn start(upstream: SocketAddr) -> BlackHoleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let holed = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(accept(listener, upstream, holed.clone()));
        BlackHoleProxy { addr, holed, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on nothing passes.
    pub fn black_hole(&self) {
        self.holed.store(true, Ordering::SeqCst);
    }
}

impl Drop for BlackHoleProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, upstream: SocketAddr, holed: Arc<AtomicBool>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        connections.spawn(forward(client, upstream, holed.clone()));
    }
}

async fn forward(client: TcpStream, upstream: SocketAddr, holed: Arc<AtomicBool>) {
    if holed.load(Ordering::SeqCst) {
        // Accepted, never answered: hold it open until the test ends.
        let _held = client;
        return std::future::pending::<()>().await;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pipe(client_read, server_write, holed.clone()),
        pipe(server_read, client_write, holed),
    );
}

/// Copies until EOF, or stops forwarding (and keeps the connection) once holed.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    holed: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if holed.load(Ordering::SeqCst) {
            let _held = (from, to);
            std::future::pending::<()>().await;
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
