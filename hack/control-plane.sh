#!/usr/bin/env bash
# Builds the local Kubernetes control plane used by e2e tests and the demo
# (etcd, kube-apiserver, kubectl, helm) from the Go module proxy, at the
# versions pinned in hack/versions.env (DESIGN.md §5). Needs only Go.
#
#   hack/control-plane.sh build          build into the cache unless already there
#   hack/control-plane.sh build-node     also the node mode's binaries: kubelet,
#                                        kube-controller-manager, kube-scheduler, kube-proxy
#   hack/control-plane.sh bin-dir        print the stable bin directory
#   hack/control-plane.sh node-bin-dir   print the stable bin directory of build-node
#   hack/control-plane.sh key            print the cache key of the pinned versions
#
# Binaries land in ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/control-plane/<key>/bin
# (node-bin for build-node); control-plane/bin and control-plane/node-bin are symlinks
# to the newest builds.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
versions_file="$repo_root/hack/versions.env"
templates="$repo_root/hack/control-plane"
cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/control-plane"
binaries=(etcd kube-apiserver kubectl helm)
# The node mode's, from the same k8s.io/kubernetes module (a separate directory, so
# that adding them never invalidates a finished control-plane build).
node_binaries=(kubelet kube-controller-manager kube-scheduler kube-proxy)
# Reproducible paths; no VCS stamping even if the cache sits inside a checkout.
go_build_flags=(-trimpath -buildvcs=false)

# A plain KEY=VALUE file.
# shellcheck source=versions.env disable=SC1091
source "$versions_file"
: "${KUBERNETES_VERSION:?missing in hack/versions.env}"
: "${ETCD_VERSION:?missing in hack/versions.env}"
: "${HELM_VERSION:?missing in hack/versions.env}"

log() { printf 'control-plane: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

usage() {
  sed -n '2,15s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# The key changes with any pinned version and with the target platform, so a
# version bump builds into a fresh directory and never reuses stale binaries.
cache_key() {
  local digest
  digest=$({
    grep -Ev '^[[:space:]]*(#|$)' "$versions_file"
    go env GOOS GOARCH
  } | sha256sum | cut -c1-12)
  printf 'kubernetes-%s-%s' "$KUBERNETES_VERSION" "$digest"
}

# is_complete BIN_DIR NAME...: every named binary is there.
is_complete() {
  local bin_dir=$1 name
  shift
  for name in "$@"; do
    [[ -x "$bin_dir/$name" ]] || return 1
  done
}

# Points the stable control-plane/<link> (bin, node-bin) at a build, atomically.
link_bin() {
  local key=$1 link=${2:-bin}
  local tmp="$cache_root/.$link.$$"
  ln -sfn "$key/$link" "$tmp"
  mv -Tf "$tmp" "$cache_root/$link"
}

# Prints the path of a module's go.mod, downloading the module into the module cache.
module_gomod() {
  local json gomod
  json=$(go mod download -json "$1") || die "go mod download $1 failed: $json"
  gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  [[ -f "$gomod" ]] || die "no go.mod for $1 in: $json"
  printf '%s\n' "$gomod"
}

modinfo() {
  local gomod=$1
  shift
  go mod edit -json "$gomod" | go run "$templates/modinfo/main.go" "$@"
}

# Starts a throwaway main module in $1 that inherits the go line and godebug
# defaults (and, for Kubernetes, the staging replaces) of upstream go.mod $2.
init_module() {
  local dir=$1 upstream_gomod=$2 name=$3 flags_text
  shift 3
  rm -rf "$dir"
  mkdir -p "$dir"
  flags_text=$(modinfo "$upstream_gomod" edit-flags "$@")
  local -a flags
  mapfile -t flags <<<"$flags_text"
  (
    cd "$dir"
    local out
    out=$(go mod init "kvs-operator.local/control-plane/$name" 2>&1) || die "go mod init: $out"
    go mod edit "${flags[@]}"
  )
}

timed() {
  local what=$1 start=$SECONDS
  shift
  log "building $what"
  "$@"
  log "built $what in $(duration $((SECONDS - start)))"
  printf '%s\t%s\n' "$what" "$((SECONDS - start))" >>"$timings"
}

# Commands of k8s.io/kubernetes (kube-apiserver and kubectl; with build-node the
# kubelet, kube-controller-manager, kube-scheduler and kube-proxy) from one module:
# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and
# replaces them with its own tree, which the module zip lacks; we replace them
# with the published v0.<minor>.<patch> instead.
#   build_kubernetes WORK_DIR OUT_DIR COMMAND...
build_kubernetes() {
  local work=$1 out=$2
  shift 2
  local commands=("$@")
  local minor=${KUBERNETES_VERSION#v1.}
  minor=${minor%%.*}
  local staging="v0.${KUBERNETES_VERSION#v1.}"
  local gomod
  gomod=$(module_gomod "k8s.io/kubernetes@$KUBERNETES_VERSION")
  init_module "$work" "$gomod" kubernetes "$staging"

  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean"
  done
  (
    cd "$work"
    local tools=()
    for pkg in "${commands[@]}"; do tools+=("-tool=k8s.io/kubernetes/cmd/$pkg"); done
    go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION" "${tools[@]}"
    go mod tidy
    # Static, with the tags upstream's hack/lib/golang.sh uses for release builds.
    for pkg in "${commands[@]}"; do
      CGO_ENABLED=0 go build "${go_build_flags[@]}" -tags=selinux,notest,grpcnotrace \
        -ldflags "$ldflags" -o "$out/$pkg" "k8s.io/kubernetes/cmd/$pkg"
    done
  )
}

# etcd's own main lives in the go.etcd.io/etcd/v3 module, whose replace lines
# forbid building it as a dependency; a copy of its two-line main around the
# published server module builds the same binary.
build_etcd() {
  local work=$1 out=$2 gomod
  gomod=$(module_gomod "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  init_module "$work" "$gomod" etcd
  cp "$templates/etcd/main.go" "$work/main.go"
  (
    cd "$work"
    go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
    CGO_ENABLED=0 go build "${go_build_flags[@]}" -ldflags "-s -w" -o "$out/etcd" .
  )
}

# helm's go.mod has no replace lines, so go install builds it as published.
# The ldflags are those of helm's Makefile for a tagged release.
build_helm() {
  local work=$1 out=$2 gomod client_go
  gomod=$(module_gomod "helm.sh/helm/v3@$HELM_VERSION")
  client_go=$(modinfo "$gomod" require k8s.io/client-go)
  local k8s_minor=${client_go#v0.}
  k8s_minor=${k8s_minor%%.*}
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  mkdir -p "$work"
  (cd "$work" && CGO_ENABLED=0 GOBIN="$out" go install "${go_build_flags[@]}" -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
}

# Fails unless the command prints exactly the expected line among its output.
expect_line() {
  local line=$1 out
  shift
  out=$("$@" 2>&1) || die "'$*' failed: $out"
  grep -qxF "$line" <<<"$out" || die "'$*' printed '$out', expected the line '$line'"
}

# Each binary must run and report the pinned version, or the build failed.
check_versions() {
  local bin=$1
  expect_line "etcd Version: ${ETCD_VERSION#v}" "$bin/etcd" --version
  expect_line "Kubernetes $KUBERNETES_VERSION" "$bin/kube-apiserver" --version
  expect_line "Client Version: $KUBERNETES_VERSION" "$bin/kubectl" version --client
  expect_line "$HELM_VERSION" "$bin/helm" version --short
  log "etcd $ETCD_VERSION, kube-apiserver and kubectl $KUBERNETES_VERSION, helm $HELM_VERSION"
}

check_node_versions() {
  local bin=$1 name
  for name in "${node_binaries[@]}"; do
    expect_line "Kubernetes $KUBERNETES_VERSION" "$bin/$name" --version
  done
  log "${node_binaries[*]} $KUBERNETES_VERSION"
}

# Takes the build lock unless BIN_DIR already holds every named binary; after
# the wait, whoever waited finds the work done.
#   lock_unless_complete BIN_DIR NAME...
lock_unless_complete() {
  if ! is_complete "$@"; then
    exec 9>"$cache_root/.lock"
    if command -v flock >/dev/null; then flock 9; fi
  fi
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  local key dir
  key=$(cache_key)
  dir="$cache_root/$key"
  mkdir -p "$cache_root"
  # Serialise concurrent builds (CI and a developer, say); re-check after the wait.
  lock_unless_complete "$dir/bin" "${binaries[@]}"
  if is_complete "$dir/bin" "${binaries[@]}"; then
    link_bin "$key"
    log "up to date: $dir/bin (checked in $(duration "$SECONDS"))"
    return
  fi

  log "building $key into $dir ($(go version))"
  local start=$SECONDS partial="$dir/bin.partial"
  timings="$dir/build-times.tsv"
  rm -rf "$partial" "${dir:?}/bin"
  mkdir -p "$partial"
  : >"$timings"
  # One after another: on 2 cores, parallel links of kube-apiserver and helm
  # only compete for memory.
  timed kube-apiserver+kubectl build_kubernetes "$dir/work/kubernetes" "$partial" kube-apiserver kubectl
  timed etcd build_etcd "$dir/work/etcd" "$partial"
  timed helm build_helm "$dir/work/helm" "$partial"
  check_versions "$partial"
  mv "$partial" "$dir/bin"
  link_bin "$key"
  printf 'total\t%s\n' "$((SECONDS - start))" >>"$timings"
  log "control plane built in $(duration $((SECONDS - start))): $cache_root/bin -> $key/bin"
}

# The node mode's binaries, after (and from the same module as) the control plane's,
# so the Go build cache already holds most of what they compile.
cmd_build_node() {
  cmd_build
  local key dir
  key=$(cache_key)
  dir="$cache_root/$key"
  lock_unless_complete "$dir/node-bin" "${node_binaries[@]}"
  if is_complete "$dir/node-bin" "${node_binaries[@]}"; then
    link_bin "$key" node-bin
    log "up to date: $dir/node-bin"
    return
  fi
  local start=$SECONDS partial="$dir/node-bin.partial"
  timings="$dir/build-times.tsv"
  rm -rf "$partial" "${dir:?}/node-bin"
  mkdir -p "$partial"
  timed "${node_binaries[*]}" build_kubernetes "$dir/work/kubernetes-node" "$partial" "${node_binaries[@]}"
  check_node_versions "$partial"
  mv "$partial" "$dir/node-bin"
  link_bin "$key" node-bin
  printf 'node total\t%s\n' "$((SECONDS - start))" >>"$timings"
  log "node binaries built in $(duration $((SECONDS - start))): $cache_root/node-bin -> $key/node-bin"
}

case "${1:-}" in
build) cmd_build ;;
build-node) cmd_build_node ;;
bin-dir) printf '%s\n' "$cache_root/bin" ;;
node-bin-dir) printf '%s\n' "$cache_root/node-bin" ;;
key) printf '%s\n' "$(cache_key)" ;;
*) usage ;;
esac
