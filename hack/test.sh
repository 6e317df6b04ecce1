#!/usr/bin/env bash
# Every check CI runs, in order. Installs what the tests need on a fresh machine first
# (hack/prepare.sh: control-plane, node and Argo CD binaries from the Go module proxy,
# Debian packages for the node and redis, the operator's image; Python venvs from PyPI),
# all cached under ${KVS_CACHE_DIR:-~/.cache/kvs-operator}, so a second run only tests.
#
#   hack/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

timings=()
step() {
    local name=$1
    shift
    echo "==> $name" >&2
    local start=$SECONDS
    "$@"
    timings+=("$(printf '%-28s %5ss' "$name" $((SECONDS - start)))")
}
# Disk as well as time: the disk CI runs on is shared, and a full one fails the build.
disk() { df -h --output=avail . | tail -1 | tr -d ' '; }
echo "==> disk: $(disk) free" >&2
report() {
    echo "==> timings" >&2
    printf '    %s\n' "${timings[@]}" >&2
    echo "==> disk: $(disk) free; target/ $(du -sh target 2>/dev/null | cut -f1)" >&2
}
trap report EXIT

# The control plane, kubeconform, promtool and the monitoring CRDs (tests/chart.rs runs
# `promtool test rules` on the chart's alerts; tests/e2e/chart.rs, monitoring.rs), Argo CD
# and redis (tests/gitops, the Argo CD demo), the node mode (Debian packages, kubelet &
# co., the pause image) and the operator's image, which hack/image-check.sh first proves
# against the Dockerfile (tests/e2e/node/).
step "prepare (hack/prepare.sh)" hack/prepare.sh
step "cargo fmt" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# kstatus (sigs.k8s.io/cli-utils) over the recorded VideoStreams; also builds what the
# GitOps e2e tests run it with.
kstatus_tests() { (cd hack/kstatus && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go test -count=1 ./...); }
step "kstatus" kstatus_tests
# Builds the binaries the e2e tests run, then every test: unit, component (emulator),
# e2e (real kube-apiserver + etcd; the chart on a one-node cluster), GitOps (and Argo CD)
# and the harness's own.
test_log=$(mktemp)
# --no-fail-fast: one failing test binary does not hide the results of the others.
run_tests() { cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$test_log"; }
step "cargo test" run_tests
# The e2e binaries' own timings, from their summary lines.
for binary in e2e gitops; do
    summary=$(awk -v binary="$binary" '$0 ~ "Running tests/" binary "/main.rs" { found = 1 } found && /test result/ { print; exit }' "$test_log")
    timings+=("$(printf '%-28s %s' "  of which $binary" "${summary##*finished in }")")
done
rm -f "$test_log"
step "emulator conformance" emulator/conformance/run.sh -q
step "argocd health" deploy/argocd/test.sh
# The README's demo commands, started and stopped as a user would; `down` fails if the
# node left anything behind.
demo() { hack/dev.sh up && hack/dev.sh down && hack/dev.sh up --argocd && hack/dev.sh down; }
step "demo (dev.sh up [--argocd])" demo
demo_node() { hack/dev.sh up --node && hack/dev.sh down; }
step "demo (up --node, down)" demo_node
