#!/usr/bin/env bash
# The node's init: PID 1 of the node's own PID, mount and network namespaces (started by
# `unshare --fork --pid --mount-proc --mount --propagation private --net --kill-child`).
# It sets up the node's view of the machine, then runs containerd, the kubelet and
# kube-proxy until SIGTERM. When it exits, the kernel kills everything left in its PID
# namespace (shims and containers included), and every mount and network namespace made
# inside goes with it: nothing outlives the node but its cgroups and its directory.
#
#   init.sh NODE_ENV     NODE_ENV: the KEY=VALUE file NodeCluster writes
set -euo pipefail
# Exported, for import.sh too.
set -a
# shellcheck source=/dev/null
source "$1"
set +a
cd "$NODE_DIR"

log() { printf '%s node-init: %s\n' "$(date +%T.%3N)" "$*"; }
children=()
stop() {
  log "stopping"
  # The kubelet and kube-proxy first, so nothing asks containerd for more.
  kill -TERM "${children[@]:1}" 2>/dev/null || true
  wait "${children[@]:1}" 2>/dev/null || true
  kill -TERM "${children[0]}" 2>/dev/null || true
  wait 2>/dev/null || true
  log "stopped"
  exit 0
}
trap stop TERM INT

# /sys shows the network devices of the namespace that mounted it: mount a fresh one,
# carrying the host's cgroup hierarchies over. This has to happen before / becomes
# shared again (a mount under a shared mount cannot be moved).
mkdir -p cgroup-move
mount --rbind /sys/fs/cgroup cgroup-move
mount -t sysfs sysfs /sys
mount --move cgroup-move /sys/fs/cgroup
# Shared within the node only (its mounts are private to the host): the kubelet's mount
# propagation works, and nothing leaks out.
mount --make-rshared /
# Where containerd, the CNI plugins and the kubelet keep state at fixed paths: the node's
# own directories, so the host's /run, /var/lib and /var/log stay untouched.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p var-lib/cni var-log/pods var-log/containers
mount --bind var-lib /var/lib
mount --bind var-log /var/log

# The network: the link the harness moved in, a route back to the host for Service
# addresses (kube-proxy rewrites them), and forwarding for the pods' bridge.
ip link set lo up
for _ in $(seq 100); do
  ip link show "$LINK" >/dev/null 2>&1 && break
  sleep 0.1
done
ip link set "$LINK" name eth0
ip addr add "$NODE_IP/$LINK_PREFIX" dev eth0
ip link set eth0 up
ip route add "$SERVICE_CIDR" via "$HOST_IP"
echo 1 >/proc/sys/net/ipv4/ip_forward
# Bridged pod-to-pod replies must pass kube-proxy's NAT rules (a Service whose pod is on
# the same bridge as its client).
echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables

# The kubelet's cgroup root, in every hierarchy; cpuset needs its cpus and mems filled.
for hierarchy in /sys/fs/cgroup/*/; do mkdir -p "$hierarchy$CGROUP_ROOT"; done
cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"

log "starting containerd"
containerd --config containerd.toml >logs/containerd.log 2>&1 &
children+=($!)
for _ in $(seq 150); do
  ctr --address "$CONTAINERD_SOCKET" version >/dev/null 2>&1 && break
  sleep 0.1
done
# The sandbox image, before any pod: its name is what containerd.toml says.
"$IMPORT" "$PAUSE_TAR" "$PAUSE_BASE_NAME" "$PAUSE_REF"

log "starting the kubelet and kube-proxy"
"$BIN/kubelet" --config kubelet.yaml --kubeconfig kubelet.kubeconfig --root-dir "$NODE_DIR/kubelet" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" >logs/kubelet.log 2>&1 &
children+=($!)
"$BIN/kube-proxy" --config kube-proxy.yaml >logs/kube-proxy.log 2>&1 &
children+=($!)
log "running"
# Any of them exiting ends the node: the harness sees it die.
wait -n "${children[@]}" || true
log "a node process exited; stopping the rest"
stop
