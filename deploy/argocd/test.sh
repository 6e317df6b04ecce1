#!/usr/bin/env bash
# Tests the Argo CD health checks in resource_customizations/ with Argo CD's own code, at
# the version hack/argocd.sh pins:
#
#   1. Argo CD's own test TestLuaHealthScript (util/lua), in a copy of the published
#      argo-cd module whose resource_customizations also hold ours: each of our
#      health_test.yaml cases runs exactly as Argo CD runs its built-in checks.
#   2. harness/argocd_cm_test.go, in the same package: our checks installed through
#      argocd-cm.yaml as docs/argocd.md says, and assessed as the application controller
#      assesses a live object (settings manager, argocd-cm sandbox, gitops-engine), and
#      by the docs' `argocd admin settings resource-overrides health` with the built CLI.
#
# Needs Go and the Argo CD that `hack/argocd.sh build` made; modules come from the Go
# module proxy. Never skips.
#
#   deploy/argocd/test.sh                       run both
#   deploy/argocd/test.sh --update-configmap    rewrite argocd-cm.yaml from the health.lua files
#
# Environment: KVS_CACHE_DIR (default ~/.cache/kvs-operator); the copy lives in
# $KVS_CACHE_DIR/argocd-health.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
customizations="$here/resource_customizations"
work="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/argocd-health"

log() { printf 'argocd-health: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# argocd-cm.yaml: its header and metadata, then one data key per health.lua.
update_configmap() {
  local cm="$here/argocd-cm.yaml" script group kind
  {
    sed '/^data:$/q' "$cm"
    for script in "$customizations"/*/*/health.lua; do
      kind=$(basename "$(dirname "$script")")
      group=$(basename "$(dirname "$(dirname "$script")")")
      printf '  resource.customizations.health.%s_%s: |\n' "$group" "$kind"
      sed 's/^\(.\)/    \1/' "$script"
    done
  } >"$cm.new"
  mv "$cm.new" "$cm"
  log "argocd-cm.yaml updated"
}

if [[ "${1:-}" == "--update-configmap" ]]; then
  update_configmap
  exit 0
fi
[[ $# -eq 0 ]] || die "usage: deploy/argocd/test.sh [--update-configmap]"

command -v go >/dev/null || die "needs Go"
source=$("$repo_root/hack/argocd.sh" source-dir)
# The same toolchain and modules as the Argo CD build.
GOTOOLCHAIN=$("$repo_root/hack/argocd.sh" toolchain)
export GOTOOLCHAIN
version=$(basename "$source")
tree="$work/${version//@/-}"

# A copy of the module (hard links where possible: it is never written to), with
# writable directories where ours are added. The module zip lacks the nested
# gitops-engine module, so its go.mod takes the replace lines the build derives.
log "preparing $tree"
if [[ -d "$tree" ]]; then
  # Its directories are ours, its files links into the module cache: only the
  # directories are made writable, so that they can be removed.
  find "$tree" -type d ! -perm -u+w -exec chmod u+w {} +
  rm -rf "$tree"
fi
mkdir -p "$work"
cp -al "$source" "$tree" 2>/dev/null || cp -a "$source" "$tree"
chmod u+w "$tree" "$tree/resource_customizations" "$tree/util/lua"
# -L: a kind whose health.lua is a link to another kind's gets a copy of the file.
cp -rL "$customizations"/. "$tree/resource_customizations/"
cp "$here/harness/argocd_cm_test.go" "$tree/util/lua/kvs_operator_argocd_cm_test.go"
rm "$tree/go.mod" "$tree/go.sum"
cp "$source/go.mod" "$source/go.sum" "$tree/"
chmod u+w "$tree/go.mod" "$tree/go.sum"
mapfile -t replaces < <(go mod edit -json "$tree/go.mod" | go run "$repo_root/hack/control-plane/modinfo/main.go" replace-flags)
(cd "$tree" && go mod edit "${replaces[@]}")

log "Argo CD $version, $(go version | cut -d' ' -f3)"
export KVS_CUSTOMIZATIONS="$customizations" KVS_ARGOCD_CM="$here/argocd-cm.yaml"
export KVS_ARGOCD_INSTALL="$source/manifests/core-install.yaml"
KVS_ARGOCD_BIN="$("$repo_root/hack/argocd.sh" bin-dir)/argocd"
[[ -x "$KVS_ARGOCD_BIN" ]] || die "Argo CD is not built: run hack/argocd.sh build"
export KVS_ARGOCD_BIN
output="$work/go-test.log"
status=0
# The build settings of hack/argocd.sh (static, -trimpath), so the packages it compiled are
# reused from the build cache.
(cd "$tree" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go test -trimpath -count=1 -v \
  -run '^(TestLuaHealthScript|TestConfigMapPatchCarriesEveryHealthScript|TestHealthThroughArgoCDConfigMap|TestDocsCommandGivesEveryCaseItsHealth|TestHealthOfUnusualObjects|TestConfigMapScriptsRunWithoutTheStringLibrary)$' \
  ./util/lua) >"$output" 2>&1 || status=$?
grep -E '^(--- FAIL|FAIL|ok|panic)|_test.go:[0-9]+:' "$output" >&2 || true
[[ $status -eq 0 ]] || die "go test failed (full output: $output)"

# Argo CD's walk must have found every case of ours: a case it skipped would not fail.
for tests in "$customizations"/*/*/health_test.yaml; do
  dir=$(dirname "$tests")
  kind="${dir#"$customizations"/}"
  expected=$(grep -c '^- healthStatus:' "$tests")
  ran=$(grep -c -- "--- PASS: TestLuaHealthScript/$kind/" "$output" || true)
  [[ "$ran" -eq "$expected" ]] || die "TestLuaHealthScript ran $ran of the $expected cases of $kind"
  log "$kind: $ran cases passed in Argo CD's TestLuaHealthScript"
done
log "passed: $(grep -c -- '--- PASS' "$output") tests and subtests (Argo CD's and ours)"
