#!/usr/bin/env bash
# Builds the extra tools the chart checks use from the Go module proxy, pinned
# below, into ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/tools/<key>/bin (needs
# only Go). A second run is a no-op.
#
#   hack/tools.sh build     build into the cache unless already there
#   hack/tools.sh bin-dir   print the stable bin directory (tools/bin)
#
# The pin lives here rather than in hack/versions.env, whose every line keys
# the control-plane cache: a tool bump must not rebuild kube-apiserver.
set -euo pipefail

KUBECONFORM_VERSION=v0.8.0

cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/tools"
go_build_flags=(-trimpath -buildvcs=false)

log() { printf 'tools: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

cache_key() {
  local digest
  digest=$({
    printf 'kubeconform %s\n' "$KUBECONFORM_VERSION"
    go env GOOS GOARCH
  } | sha256sum | cut -c1-12)
  printf 'tools-%s\n' "$digest"
}

# Points the stable tools/bin at a build, atomically.
link_bin() {
  local key=$1 tmp="$cache_root/.bin.$$"
  ln -sfn "$key/bin" "$tmp"
  mv -Tf "$tmp" "$cache_root/bin"
}

cmd_build() {
  command -v go >/dev/null || die "go is not on PATH"
  local key dir
  key=$(cache_key)
  dir="$cache_root/$key"
  mkdir -p "$cache_root"
  # Serialise concurrent builds; whoever waited finds the work done.
  exec 9>"$cache_root/.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [[ -x "$dir/bin/kubeconform" ]]; then
    link_bin "$key"
    log "up to date: $dir/bin"
    return
  fi

  local start=$SECONDS partial="$dir/bin.partial"
  rm -rf "$partial" "${dir:?}/bin"
  mkdir -p "$partial" "$dir/work"
  log "building kubeconform $KUBECONFORM_VERSION ($(go version))"
  # kubeconform's go.mod has no replace lines, so go install builds it as published.
  (cd "$dir/work" && CGO_ENABLED=0 GOBIN="$partial" go install "${go_build_flags[@]}" \
    -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION")
  local got
  got=$("$partial/kubeconform" -v 2>&1) || die "kubeconform -v failed: $got"
  [[ "$got" == "$KUBECONFORM_VERSION" ]] || die "kubeconform -v printed '$got', expected $KUBECONFORM_VERSION"
  mv "$partial" "$dir/bin"
  link_bin "$key"
  log "kubeconform $KUBECONFORM_VERSION built in $((SECONDS - start))s: $cache_root/bin -> $key/bin"
}

case "${1:-}" in
build) cmd_build ;;
bin-dir) printf '%s\n' "$cache_root/bin" ;;
*) usage ;;
esac
