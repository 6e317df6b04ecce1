//! The node's configuration files: containerd, CNI, the kubelet and kube-proxy.

use std::net::Ipv4Addr;
use std::path::Path;

use super::link::Link;

/// The node's name in the cluster.
pub const NODE_NAME: &str = "kvs-node";

/// Where the node's files are, and who it is.
pub(crate) struct Layout<'a> {
    pub(crate) dir: &'a Path,
    pub(crate) link: &'a Link,
    pub(crate) socket: &'a Path,
    pub(crate) pause_ref: &'a str,
    pub(crate) ca_cert: &'a Path,
}

impl Layout<'_> {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    /// containerd 1.6 (config version 2): its own root, state and socket in the node's
    /// directory, the pause image made here, the CNI plugins from Debian's package.
    pub(crate) fn containerd(&self) -> String {
        format!(
            r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # Network namespaces under the state directory, not /var/run/netns.
  netns_mounts_under_state_dir = true
  # This VM withholds CAP_SYS_RESOURCE, so no process may lower its OOM score; without
  # this, runc fails on the -998 that sandboxes ask for.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"#,
            root = self.path("containerd/root"),
            state = self.path("containerd/state"),
            socket = self.socket.display(),
            pause = self.pause_ref,
            cni = self.path("cni"),
        )
    }

    /// One bridge for the pods, with addresses from the node's pod range. Routes only:
    /// no masquerading, so the host reaches pods by their own addresses and nothing is
    /// ever sent off the machine (the node has no default route).
    pub(crate) fn cni(&self) -> String {
        let link = self.link;
        serde_json::json!({
            "cniVersion": "1.0.0",
            "name": "kvs",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": "kvsbr0",
                    "isGateway": true,
                    "ipMasq": false,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": link.pod_cidr(), "gateway": link.bridge_ip().to_string()}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": self.path("cni-ipam"),
                    },
                },
                {"type": "loopback"},
            ],
        })
        .to_string()
    }

    /// The kubelet on cgroup v1 (see hack/node.sh for why that works with v1.36), with
    /// certificate authentication, API-server authorization, and eviction thresholds
    /// low enough that a well-filled disk does not taint the only node.
    pub(crate) fn kubelet(&self, cgroup_root: &str) -> String {
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup_root}
containerRuntimeEndpoint: unix://{socket}
address: {node_ip}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
tlsCertFile: {cert}
tlsPrivateKeyFile: {key}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {ca}}}
authorization:
  mode: Webhook
resolvConf: {resolv}
failSwapOn: false
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
"#,
            socket = self.socket.display(),
            node_ip = self.link.node_ip(),
            cert = self.path("kubelet.crt"),
            key = self.path("kubelet.key"),
            ca = self.ca_cert.display(),
            resolv = self.path("resolv.conf"),
        )
    }

    /// kube-proxy in iptables mode, inside the node's network namespace. It leaves the
    /// conntrack sysctls alone: a non-initial network namespace cannot change them.
    pub(crate) fn kube_proxy(&self) -> String {
        format!(
            r#"apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: {kubeconfig}
hostnameOverride: {NODE_NAME}
clusterCIDR: {pod_cidr}
bindAddress: {node_ip}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  localhostNodePorts: false
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
"#,
            kubeconfig = self.path("kube-proxy.kubeconfig"),
            pod_cidr = self.link.pod_cidr(),
            node_ip = self.link.node_ip(),
        )
    }

    /// What init.sh sources.
    pub(crate) fn env(&self, bin: &Path, cgroup_root: &str, pause_tar: &Path) -> String {
        let link = self.link;
        let (base, _) = self
            .pause_ref
            .rsplit_once(':')
            .unwrap_or((self.pause_ref, ""));
        let vars: [(&str, String); 14] = [
            ("NODE_DIR", self.dir.display().to_string()),
            ("NODE_NAME", NODE_NAME.to_string()),
            ("LINK", link.peer_name()),
            ("NODE_IP", link.node_ip().to_string()),
            ("HOST_IP", link.host_ip().to_string()),
            ("LINK_PREFIX", Link::PREFIX.to_string()),
            ("SERVICE_CIDR", crate::plane::SERVICE_CIDR.to_string()),
            ("CGROUP_ROOT", cgroup_root.to_string()),
            ("BIN", bin.display().to_string()),
            ("CONTAINERD_SOCKET", self.socket.display().to_string()),
            ("IMPORT", self.path("import.sh")),
            ("PAUSE_TAR", pause_tar.display().to_string()),
            ("PAUSE_BASE_NAME", base.to_string()),
            ("PAUSE_REF", self.pause_ref.to_string()),
        ];
        vars.iter()
            .map(|(key, value)| format!("{key}={}\n", shell_quote(value)))
            .collect()
    }
}

/// `value` as one shell word.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The addresses a node's kubelet serves on, for its certificate.
pub(crate) fn kubelet_ips(link: &Link) -> Vec<std::net::IpAddr> {
    vec![
        std::net::IpAddr::V4(link.node_ip()),
        std::net::IpAddr::V4(Ipv4Addr::LOCALHOST),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
