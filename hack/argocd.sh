#!/usr/bin/env bash
# Builds Argo CD from the Go module proxy, for the GitOps e2e tests and the demo
# (`hack/dev.sh up --argocd`): its multi-call binary (argocd, and through
# symlinks argocd-application-controller and argocd-repo-server), built from a
# throwaway module the way hack/control-plane.sh builds kube-apiserver. Needs
# only Go; the Go toolchain Argo CD asks for comes from the proxy too. Also
# installs Debian's redis-server, the cache both Argo CD components talk to.
#
#   hack/argocd.sh build        build into the cache unless already there
#   hack/argocd.sh bin-dir      print the stable bin directory
#   hack/argocd.sh source-dir   print Argo CD's module source (manifests, resource_customizations)
#   hack/argocd.sh key          print the cache key of the pinned versions
#
# Everything lands in ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/argocd/<key>,
# and argocd/current points at the newest build.
#
# The pins live here rather than in hack/versions.env, whose every line keys
# the control-plane cache: an Argo CD bump must not rebuild kube-apiserver.
set -euo pipefail

ARGOCD_VERSION=v3.6.1
# Argo CD v3.6's go.mod says go 1.27.0; this is the Go of its own release build
# (the golang image of its Dockerfile). GOTOOLCHAIN fetches it from the proxy.
ARGOCD_GO_TOOLCHAIN=go1.27.3
# Bump when this script changes how Argo CD is built, to force a rebuild.
BUILD_REVISION=1

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
  sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
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

  # The link-time version variables of Argo CD's Makefile.
  local kubectl_version build_date
  kubectl_version=$(modinfo "$gomod" require k8s.io/kubectl)
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  local pkg="$module/common"
  local ldflags="-s -w -X $pkg.version=$(tr -d '[:space:]' <"$source/VERSION")"
  # No gitCommit: the proxy does not say which commit the tag is, so the
  # version reads v3.6.1+unknown, as upstream's own builds outside git do.
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

case "${1:-}" in
build) cmd_build ;;
bin-dir) printf '%s\n' "$cache_root/current/bin" ;;
source-dir) module_file Dir "$module@$ARGOCD_VERSION" ;;
key) cache_key ;;
*) usage ;;
esac
