#!/usr/bin/env bash
# What the node mode of the test cluster needs beside the control plane (testenv's
# NodeCluster, `hack/dev.sh up --node`): a kubelet on containerd, in network, mount
# and PID namespaces of its own.
#
#   hack/node.sh install   Debian packages: containerd, runc, CNI plugins, iptables, umoci
#   hack/node.sh build     kubelet, kube-controller-manager, kube-scheduler, kube-proxy
#                          (hack/control-plane.sh build-node), the pause image and the
#                          node tests' printenv image
#   hack/node.sh check     exit 1, naming what is missing, unless everything is there
#   hack/node.sh dir       print the stable directory of the images (node/current)
#
# Why this combination: the VM mounts cgroup v1 (cgroup2 holds only hugetlb), and
# Debian 12 ships containerd 1.6.20. kubelet v1.36.3, the same version as the API
# server, still runs on both when told so: `failCgroupV1: false` (its default is true
# since v1.35), and without the CRI RuntimeConfig call (new in containerd 2.0) it falls
# back to `cgroupDriver: cgroupfs` from its config; v1.37 drops that fallback. That keeps
# one k8s.io/kubernetes build for every binary, instead of a second, older kubelet
# (within the skew policy) or containerd 2.x built from source.
#
# The pause image lands in ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/node/<key>:
# pause.oci.tar (an OCI layout, for `ctr images import`) and pause.ref (its name); beside
# it the node tests' workload image, printenv.oci.tar and printenv.ref (a static program
# that prints its environment: what a pod's envFrom gave it).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/node"
pause_src="$repo_root/hack/node/pause"
printenv_src="$repo_root/hack/node/printenv"
# The sandbox image containerd is configured with; never pulled, imported from here.
pause_ref=kvs-testenv.local/pause:1
printenv_ref=kvs-testenv.local/printenv:1

# Debian package -> a command it provides, to tell whether it is installed.
declare -A packages=(
  [containerd]=/usr/bin/containerd
  [runc]=/usr/sbin/runc
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [iptables]=/usr/sbin/iptables
  [umoci]=/usr/bin/umoci
)
# Used by the node's init script and the harness; util-linux and iproute2 come with Debian.
commands=(unshare nsenter ip ctr)

log() { printf 'node: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

missing_packages() {
  local package
  for package in "${!packages[@]}"; do
    [[ -x "${packages[$package]}" ]] || printf '%s\n' "$package"
  done | sort
}

cmd_install() {
  local missing
  missing=$(missing_packages)
  if [[ -z "$missing" ]]; then
    log "up to date: ${!packages[*]}"
    return
  fi
  [[ $(id -u) == 0 ]] || die "installing ${missing//$'\n'/ } needs root (apt-get)"
  log "installing ${missing//$'\n'/ }"
  apt-get update -q >/dev/null
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
  missing=$(missing_packages)
  [[ -z "$missing" ]] || die "still missing after apt-get install: $missing"
  log "containerd $(containerd --version | awk '{print $3}'), $(runc --version | head -1)"
}

cache_key() {
  local digest
  digest=$({
    cat "$pause_src/main.go" "$pause_src/go.mod" "$printenv_src/main.go" "$printenv_src/go.mod"
    printf '%s\n' "$pause_ref" "$printenv_ref"
    go version
    # Bump to force a rebuild when this script changes how the images are built.
    printf 'revision 2\n'
  } | sha256sum | cut -c1-12)
  printf 'pause-%s\n' "$digest"
}

link_current() {
  local key=$1
  local tmp="$cache_root/.current.$$"
  ln -sfn "$key" "$tmp"
  mv -Tf "$tmp" "$cache_root/current"
}

# An image of one static Go program (hack/node/<name>) as /<name>, its entrypoint, run as
# a non-root user (what the pod sandbox and a test workload need): <name>.oci.tar and
# <name>.ref in $out.
build_image() {
  local name=$1 ref=$2 work=$3 out=$4
  rm -rf "$work"
  mkdir -p "$work"
  (cd "$repo_root/hack/node/$name" && CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$work/$name" .)
  local tag=${ref##*:}
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:$tag"
  umoci insert --image "$work/oci:$tag" "$work/$name" "/$name"
  umoci config --image "$work/oci:$tag" --config.entrypoint "/$name" --config.user 65535:65535
  umoci gc --layout "$work/oci"
  tar -C "$work/oci" -cf "$out/$name.oci.tar" .
  printf '%s\n' "$ref" >"$out/$name.ref"
  rm -rf "$work"
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  command -v umoci >/dev/null || die "umoci is missing: run hack/node.sh install"
  "$repo_root/hack/control-plane.sh" build-node
  local key dir
  key=$(cache_key)
  dir="$cache_root/$key"
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.lock"
  flock 9
  if [[ -f "$dir/complete" ]]; then
    link_current "$key"
    log "up to date: $dir"
    return
  fi
  local start=$SECONDS
  rm -rf "$dir"
  mkdir -p "$dir"
  build_image pause "$pause_ref" "$dir/work" "$dir"
  build_image printenv "$printenv_ref" "$dir/work" "$dir"
  touch "$dir/complete"
  link_current "$key"
  log "images $pause_ref and $printenv_ref built in $((SECONDS - start))s: $cache_root/current -> $key"
}

# Everything NodeCluster checks before it starts, as one list.
cmd_check() {
  local missing=() name
  for name in $(missing_packages); do missing+=("$name (hack/node.sh install)"); done
  for name in "${commands[@]}"; do
    command -v "$name" >/dev/null || missing+=("$name")
  done
  local node_bin
  node_bin=$("$repo_root/hack/control-plane.sh" node-bin-dir)
  for name in kubelet kube-controller-manager kube-scheduler kube-proxy; do
    [[ -x "$node_bin/$name" ]] || missing+=("$name (hack/node.sh build)")
  done
  [[ -f "$cache_root/current/complete" ]] || missing+=("the pause image (hack/node.sh build)")
  if ((${#missing[@]})); then
    die "missing: ${missing[*]}"
  fi
  log "ready"
}

case "${1:-}" in
install) cmd_install ;;
build) cmd_build ;;
check) cmd_check ;;
dir) printf '%s\n' "$cache_root/current" ;;
*) usage ;;
esac
