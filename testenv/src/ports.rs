//! Free loopback ports.

use std::net::{Ipv4Addr, TcpListener};

use crate::error::{Error, Result};

/// `N` distinct ports that were free a moment ago. Another process may still
/// take one before our server binds it; `ControlPlane::start` retries then.
pub(crate) fn free_loopback_ports<const N: usize>() -> Result<[u16; N]> {
    // Hold all listeners at once so the kernel hands out distinct ports.
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..N {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::io("binding a free loopback port", e))?;
        listeners.push(listener);
    }
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|e| Error::io("reading a bound port", e))?
            .port();
    }
    Ok(ports)
}
