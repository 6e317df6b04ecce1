#!/usr/bin/env bash
# Tests the Argo CD health check: runs videostream-health.lua in gopher-lua (the Lua VM
# Argo CD embeds), set up as Argo CD sets it up, against every recorded VideoStream in
# testdata/. Needs only Go; modules come from the Go module proxy into the cache directory
# and are reused. Exits non-zero on any failure; never skips.
#
#   deploy/argocd/test.sh [go test flags...]    e.g. -v, -run TestRecordedVideoStreams
#   deploy/argocd/test.sh --update-configmap    rewrite argocd-cm.yaml from the script
#
# Environment: KVS_CACHE_DIR (default ~/.cache/kvs-operator).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KVS_CACHE_DIR:-${HOME:-/tmp}/.cache/kvs-operator}/argocd-health"

if [[ "${1:-}" == "--update-configmap" ]]; then
    # Keep the header and ConfigMap up to the data key, then the script indented under it.
    key='  resource.customizations.health.kvs-operator.dev_VideoStream: |'
    head="$(sed "/^${key//./\\.}\$/q" "$here/argocd-cm.yaml")"
    [[ "$head" == *"$key" ]] || { echo "argocd-health: $key not found in argocd-cm.yaml" >&2; exit 1; }
    { printf '%s\n' "$head"; sed 's/^\(.\)/    \1/' "$here/videostream-health.lua"; } >"$here/argocd-cm.yaml.new"
    mv "$here/argocd-cm.yaml.new" "$here/argocd-cm.yaml"
    echo "argocd-health: argocd-cm.yaml updated" >&2
    exit 0
fi

command -v go >/dev/null || { echo "argocd-health: needs Go (1.24 or newer)" >&2; exit 1; }

mkdir -p "$cache"
export GOMODCACHE="$cache/mod"
export GOCACHE="$cache/build"
# The machine's Go, never a toolchain download; go.mod and go.sum are the pins.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"

cd "$here/harness"
echo "argocd-health: gopher-lua $(go list -m -f '{{.Version}}' github.com/yuin/gopher-lua), $(go version | cut -d' ' -f3)" >&2
exec go test -count=1 "$@" ./...
