#!/usr/bin/env bash
# Argo CD for the GitOps e2e tests and the demo (`hack/dev.sh up --argocd`):
# built from the Go module proxy, installed into a cluster as its core-install
# manifests describe, and its components run as local processes against that
# cluster's API server (nothing runs in pods here).
#
#   hack/argocd.sh build        build into the cache unless already there
#   hack/argocd.sh bin-dir      print the stable bin directory
#   hack/argocd.sh source-dir   print Argo CD's module source (manifests, resource_customizations)
#   hack/argocd.sh key          print the cache key of the pinned versions
#   hack/argocd.sh toolchain    print the Go toolchain Argo CD is built with
#   hack/argocd.sh install      install Argo CD into the cluster of $KUBECONFIG (namespace argocd)
#   hack/argocd.sh run COMPONENT
#                               exec one component in the foreground: redis, git-daemon,
#                               repo-server or application-controller, configured by
#     ARGOCD_LOCAL_DIR              state: checkouts, TLS/SSH/GPG data (created if missing)
#     ARGOCD_LOCAL_REDIS_PORT       redis on 127.0.0.1 (default 16379)
#     ARGOCD_LOCAL_REPO_SERVER_PORT repo-server gRPC on 127.0.0.1 (default 8081)
#     ARGOCD_LOCAL_METRICS_PORT     metrics of the component (default 8084 repo-server, 8082 controller)
#     ARGOCD_LOCAL_GIT_ROOT         git-daemon: the directory whose repositories it serves
#     ARGOCD_LOCAL_GIT_PORT         git-daemon: port on 127.0.0.1 (default 9418)
#     ARGOCD_LOCAL_APP_RESYNC       controller: seconds between comparisons with git (default 180)
#     KUBECONFIG                    controller: the cluster, also Argo CD's in-cluster destination
#
# `build` makes the multi-call binary (argocd, and through symlinks
# argocd-application-controller and argocd-repo-server) from a throwaway module,
# the way hack/control-plane.sh builds kube-apiserver, with the helper scripts
# Argo CD's image installs beside it, and installs Debian's redis-server (the
# cache both components use). It needs only Go: the Go toolchain Argo CD asks
# for comes from the proxy too. Everything lands in
# ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/argocd/<key>; argocd/current
# points at the newest build.
#
# The pins live here rather than in hack/versions.env, whose every line keys
# the control-plane cache: an Argo CD bump must not rebuild kube-apiserver.
set -euo pipefail

ARGOCD_VERSION=v3.6.1
# Argo CD v3.6's go.mod says go 1.27.0; this is the Go of its own release build
# (the golang image of its Dockerfile). GOTOOLCHAIN fetches it from the proxy.
ARGOCD_GO_TOOLCHAIN=go1.27.3
# Bump when this script changes how Argo CD is built, to force a rebuild.
BUILD_REVISION=2

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
modinfo_main="$repo_root/hack/control-plane/modinfo/main.go"
cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/argocd"
module=github.com/argoproj/argo-cd/v3
# The names the multi-call binary answers to (cmd/main.go picks by argv[0]).
components=(argocd-application-controller argocd-repo-server)
go_build_flags=(-trimpath -buildvcs=false)
# Every go command of this script runs Argo CD's toolchain, never the machine's.
export GOTOOLCHAIN=$ARGOCD_GO_TOOLCHAIN

log() { printf 'argocd: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

duration() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

usage() {
  sed -n '2,23s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cache_key() {
  local digest
  digest=$({
    printf 'argo-cd %s\ntoolchain %s\nrevision %s\n' "$ARGOCD_VERSION" "$ARGOCD_GO_TOOLCHAIN" "$BUILD_REVISION"
    go env GOOS GOARCH
  } | sha256sum | cut -c1-12)
  printf 'argocd-%s-%s\n' "$ARGOCD_VERSION" "$digest"
}

# Points the stable argocd/current at a build, atomically.
link_current() {
  local key=$1 tmp="$cache_root/.current.$$"
  ln -sfn "$key" "$tmp"
  mv -Tf "$tmp" "$cache_root/current"
}

# Prints a field (GoMod, Dir, Info) of `go mod download -json` for a module,
# downloading it into the module cache.
module_file() {
  local field=$1 target=$2 json path
  json=$(go mod download -json "$target") || die "go mod download $target failed: $json"
  path=$(sed -n "s/^[[:space:]]*\"$field\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" <<<"$json")
  [[ -e "$path" ]] || die "no $field for $target in: $json"
  printf '%s\n' "$path"
}

modinfo() {
  local gomod=$1
  shift
  go mod edit -json "$gomod" | go run "$modinfo_main" "$@"
}

# The multi-call binary from a throwaway main module: Argo CD's go line and
# godebug defaults, and its replace lines (k8s.io/* pinned to one release,
# gitops-engine from its nested module), derived from its go.mod, since a
# dependency's replace lines do not apply to the module that requires it.
build_argocd() {
  local work=$1 out=$2 gomod info source
  gomod=$(module_file GoMod "$module@$ARGOCD_VERSION")
  info=$(module_file Info "$module@$ARGOCD_VERSION")
  source=$(module_file Dir "$module@$ARGOCD_VERSION")
  rm -rf "$work"
  mkdir -p "$work"
  local flags_text
  flags_text=$({
    modinfo "$gomod" edit-flags
    modinfo "$gomod" replace-flags
  })
  local -a flags
  mapfile -t flags <<<"$flags_text"

  # The link-time version variables of Argo CD's Makefile. No gitCommit: the
  # proxy does not say which commit the tag is, so the version reads
  # v3.6.1+unknown, as upstream's own builds outside git do.
  local kubectl_version build_date version
  kubectl_version=$(modinfo "$gomod" require k8s.io/kubectl)
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  version=$(tr -d '[:space:]' <"$source/VERSION")
  local pkg="$module/common"
  local ldflags="-s -w -X $pkg.version=$version"
  ldflags+=" -X $pkg.buildDate=$build_date -X $pkg.kubectlVersion=$kubectl_version"
  (
    cd "$work"
    local msg
    msg=$(go mod init kvs-operator.local/argocd 2>&1) || die "go mod init: $msg"
    go mod edit "${flags[@]}" -require="$module@$ARGOCD_VERSION" -tool="$module/cmd"
    go mod tidy
    # Static, as upstream's release build (CGO_FLAG=0).
    CGO_ENABLED=0 go build "${go_build_flags[@]}" -ldflags "$ldflags" -o "$out/argocd" "$module/cmd"
  )
  local name
  for name in "${components[@]}"; do
    ln -s argocd "$out/$name"
  done
  # The helper scripts Argo CD's image puts beside the binary (its Dockerfile):
  # the repo-server runs git-verify-wrapper.sh on every checkout.
  for name in hack/gpg-wrapper.sh hack/git-verify-wrapper.sh; do
    install -m 0755 "$source/$name" "$out/"
  done
}

# Debian's redis-server, from apt (CI runs as root on a fresh machine).
ensure_redis() {
  command -v redis-server >/dev/null && return
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    die "redis-server is missing: install Debian's package (sudo apt-get install redis-server)"
  fi
  log "installing redis-server from apt"
  local -a install=(apt-get install -y -qq --no-install-recommends redis-server)
  if ! DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${install[@]}" >/dev/null
  fi
  command -v redis-server >/dev/null || die "apt-get installed no redis-server"
}

# The build must run and report the pinned version, or it failed.
check_version() {
  local bin=$1 out
  out=$("$bin/argocd" version --client --short 2>&1) || die "argocd version failed: $out"
  [[ "$out" == "argocd: $ARGOCD_VERSION+unknown" ]] ||
    die "argocd version printed '$out', expected 'argocd: $ARGOCD_VERSION+unknown'"
  out=$("$bin/argocd-application-controller" --help 2>&1) || die "argocd-application-controller --help failed: $out"
  out=$("$bin/argocd-repo-server" --help 2>&1) || die "argocd-repo-server --help failed: $out"
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  ensure_redis
  local key dir
  key=$(cache_key)
  dir="$cache_root/$key"
  mkdir -p "$cache_root"
  # Serialise concurrent builds; whoever waited finds the work done.
  exec 9>"$cache_root/.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [[ -f "$dir/complete" ]]; then
    link_current "$key"
    log "up to date: $dir"
    return
  fi

  local start=$SECONDS partial="$dir/bin.partial"
  log "building Argo CD $ARGOCD_VERSION with $ARGOCD_GO_TOOLCHAIN into $dir"
  rm -rf "$partial" "${dir:?}/bin"
  mkdir -p "$partial"
  build_argocd "$dir/work" "$partial"
  check_version "$partial"
  mv "$partial" "$dir/bin"
  printf 'build\t%s\n' "$((SECONDS - start))" >"$dir/build-times.tsv"
  touch "$dir/complete"
  link_current "$key"
  log "Argo CD $ARGOCD_VERSION built in $(duration $((SECONDS - start))): $cache_root/current -> $key"
}

# What argocd-server does at its first start, since core mode has no server: the
# default AppProject, and a server.secretkey in argocd-secret, without which every
# component ignores later changes to argocd-cm ("Unable to parse updated
# settings: server.secretkey is missing").
server_defaults() {
  local key
  if [[ -z $(kubectl -n argocd get secret argocd-secret -o 'jsonpath={.data.server\.secretkey}') ]]; then
    key=$(head -c 32 /dev/urandom | base64)
    kubectl -n argocd patch secret argocd-secret --type merge \
      -p "{\"stringData\": {\"server.secretkey\": \"$key\"}}" >/dev/null
  fi
  kubectl apply -f - >/dev/null <<'YAML'
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: default
  namespace: argocd
spec:
  sourceRepos: ["*"]
  destinations: [{server: "*", namespace: "*"}]
  clusterResourceWhitelist: [{group: "*", kind: "*"}]
YAML
}

# kubectl wait fails at once on a CRD that has no conditions yet; retry until it waits.
wait_established() {
  for _ in $(seq 50); do
    kubectl wait --for=condition=Established --timeout=60s "$@" >/dev/null 2>&1 && return
    sleep 0.2
  done
  kubectl wait --for=condition=Established --timeout=1s "$@" >/dev/null
}

cmd_install() {
  : "${KUBECONFIG:?install needs KUBECONFIG}"
  command -v kubectl >/dev/null || die "kubectl is not on PATH"
  local source
  source=$(module_file Dir "$module@$ARGOCD_VERSION")
  kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  # Server-side, as Argo CD's install guide says: the ApplicationSet CRD is too
  # large for the last-applied annotation of a client-side apply.
  kubectl apply -n argocd --server-side --force-conflicts \
    -f "$source/manifests/core-install.yaml" >/dev/null
  wait_established crd/applications.argoproj.io crd/appprojects.argoproj.io
  server_defaults
  log "installed Argo CD $ARGOCD_VERSION (core) into namespace argocd"
}

# State, addresses and environment both Argo CD components share.
local_state() {
  state=${ARGOCD_LOCAL_DIR:?run needs ARGOCD_LOCAL_DIR}
  mkdir -p "$state"/{tls,ssh,gpg,tmp}
  redis_addr="127.0.0.1:${ARGOCD_LOCAL_REDIS_PORT:-16379}"
  repo_server_port=${ARGOCD_LOCAL_REPO_SERVER_PORT:-8081}
  bin=$(cd "$cache_root/current/bin" 2>/dev/null && pwd -P) ||
    die "Argo CD is not built: run hack/argocd.sh build"
  export ARGOCD_TLS_DATA_PATH="$state/tls" ARGOCD_SSH_DATA_PATH="$state/ssh"
  # The repo-server runs its helper scripts (git-verify-wrapper.sh) from PATH.
  export PATH="$bin:$PATH"
}

cmd_run() {
  local component=${1:-} state redis_addr repo_server_port bin
  case "$component" in
  redis)
    # A throwaway cache: nothing is saved.
    exec redis-server --bind 127.0.0.1 --port "${ARGOCD_LOCAL_REDIS_PORT:-16379}" \
      --save '' --appendonly no
    ;;
  git-daemon)
    local root=${ARGOCD_LOCAL_GIT_ROOT:?git-daemon needs ARGOCD_LOCAL_GIT_ROOT}
    # Read-only, every repository under the root: git://127.0.0.1:PORT/<name>. The
    # git-daemon binary itself, not `git daemon`, which would run it as a child that
    # outlives a stopped parent.
    exec "$(git --exec-path)/git-daemon" --reuseaddr --listen=127.0.0.1 --port="${ARGOCD_LOCAL_GIT_PORT:-9418}" \
      --base-path="$root" --export-all --informative-errors "$root"
    ;;
  repo-server)
    local_state
    # Checkouts go to TMPDIR. No GPG: nothing here is signed. Plain gRPC on loopback.
    export TMPDIR="$state/tmp" ARGOCD_GPG_ENABLED=false ARGOCD_GNUPGHOME="$state/gpg"
    exec "$bin/argocd-repo-server" --logformat text \
      --address 127.0.0.1 --port "$repo_server_port" \
      --metrics-address 127.0.0.1 --metrics-port "${ARGOCD_LOCAL_METRICS_PORT:-8084}" \
      --redis "$redis_addr" --disable-tls --client-ca-path ""
    ;;
  application-controller)
    local_state
    : "${KUBECONFIG:?the application-controller needs KUBECONFIG}"
    # https://kubernetes.default.svc, Argo CD's own cluster, is the KUBECONFIG one.
    export ARGOCD_FAKE_IN_CLUSTER=true
    # --persist-resource-health keeps each resource's health and message in the
    # Application's status, for kubectl: there is no UI or API server here. No
    # jitter: the few Applications here need no spreading out.
    exec "$bin/argocd-application-controller" --logformat text --namespace argocd \
      --metrics-port "${ARGOCD_LOCAL_METRICS_PORT:-8082}" \
      --redis "$redis_addr" --repo-server "127.0.0.1:$repo_server_port" --repo-server-plaintext \
      --app-resync "${ARGOCD_LOCAL_APP_RESYNC:-180}" --app-resync-jitter 0 --persist-resource-health
    ;;
  *) usage ;;
  esac
}

case "${1:-}" in
build) cmd_build ;;
bin-dir) printf '%s\n' "$cache_root/current/bin" ;;
source-dir) module_file Dir "$module@$ARGOCD_VERSION" ;;
key) cache_key ;;
toolchain) printf '%s\n' "$ARGOCD_GO_TOOLCHAIN" ;;
install) cmd_install ;;
run)
  shift
  cmd_run "$@"
  ;;
*) usage ;;
esac
