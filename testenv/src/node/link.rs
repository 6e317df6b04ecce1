//! The link between this machine and a node's network namespace: a veth pair whose host
//! end the node's slot names, and the addresses that slot owns.
//!
//! Slot `N` owns `10.250.N.0/24` (the link: host `.1`, node `.2`) and `10.251.N.0/24`
//! (the node's pods, behind its bridge at `.1`). Both stay inside this machine: they
//! live on the veth pair and in the node's namespaces, and the node has no default
//! route. The host end's name `kvsn<N>` is the lock: creating it either succeeds or
//! says the slot is taken, so concurrent clusters never share addresses. The pair
//! disappears, host route included, when the node's network namespace does.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::error::{Error, Result};

/// A claimed slot; dropping it deletes the host end if it still exists.
#[derive(Debug)]
pub(crate) struct Link {
    slot: u8,
}

impl Link {
    /// The link's prefix length.
    pub(crate) const PREFIX: u8 = 24;

    /// Claims the first free slot and configures the host end.
    pub(crate) fn claim() -> Result<Link> {
        for slot in 1..=254u8 {
            let link = Link { slot };
            let created = ip(&[
                "link",
                "add",
                &link.host_name(),
                "type",
                "veth",
                "peer",
                "name",
                &link.peer_name(),
            ]);
            match created {
                Ok(()) => {
                    let address = format!("{}/{}", link.host_ip(), Self::PREFIX);
                    ip(&["addr", "add", &address, "dev", &link.host_name()])?;
                    ip(&["link", "set", &link.host_name(), "up"])?;
                    return Ok(link);
                }
                // Someone else's slot; `link` must not delete it on drop.
                Err(Error::Node(message)) if message.contains("File exists") => {
                    std::mem::forget(link);
                }
                Err(other) => {
                    std::mem::forget(link);
                    return Err(other);
                }
            }
        }
        Err(Error::Node(
            "no free node slot: kvsn1..kvsn254 all exist".into(),
        ))
    }

    pub(crate) fn slot(&self) -> u8 {
        self.slot
    }

    /// The host end, in this machine's network namespace.
    pub(crate) fn host_name(&self) -> String {
        format!("kvsn{}", self.slot)
    }

    /// The node end, until the node's init renames it `eth0`.
    pub(crate) fn peer_name(&self) -> String {
        format!("kvsn{}p", self.slot)
    }

    /// Where pods and the node reach this machine (the API server, an emulator).
    pub(crate) fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.slot, 1)
    }

    pub(crate) fn node_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.slot, 2)
    }

    pub(crate) fn pod_cidr(&self) -> String {
        format!("10.251.{}.0/24", self.slot)
    }

    pub(crate) fn bridge_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 251, self.slot, 1)
    }

    /// Moves the node end into the network namespace of process `pid`, and routes the
    /// node's pod range through it.
    pub(crate) fn attach(&self, pid: u32) -> Result<()> {
        ip(&["link", "set", &self.peer_name(), "netns", &pid.to_string()])?;
        let via = self.node_ip().to_string();
        ip(&[
            "route",
            "add",
            &self.pod_cidr(),
            "via",
            &via,
            "dev",
            &self.host_name(),
            "onlink",
        ])
    }

    /// Deletes the pair (and so the route through it) if it still exists; it is usually
    /// gone already, with the node's network namespace.
    pub(crate) fn remove(&self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_name()])
            .output();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Runs `ip ARGS`, with its message as the error.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| Error::io("running ip (iproute2)", e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Node(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}
