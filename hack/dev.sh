#!/usr/bin/env bash
# The local demo: a real Kubernetes control plane (etcd + kube-apiserver built from the Go
# module proxy), kvs-emulator as the AWS endpoint, and the operator, all in the background.
#
#   hack/dev.sh up      build, start everything, apply examples/, wait for Ready
#   hack/dev.sh down    stop everything
#   hack/dev.sh status  what runs
#
# State lives in .dev/: kubeconfig, bin/ (kubectl, helm), logs, pid files. Running `up`
# twice is harmless: what already runs is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
dev="$repo/.dev"
emulator_addr=127.0.0.1:4566
metrics_addr=127.0.0.1:8080

say() { echo "dev: $*" >&2; }

running() { # name
    local pidfile="$dev/$1.pid"
    [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() { # name, command...
    local name=$1
    shift
    if running "$name"; then
        say "$name already running (pid $(cat "$dev/$name.pid"))"
        return
    fi
    "$@" >"$dev/$name.log" 2>&1 &
    echo $! >"$dev/$name.pid"
    say "$name started (pid $!, log .dev/$name.log)"
}

wait_for() { # description, seconds, command...
    local what=$1 seconds=$2
    shift 2
    for _ in $(seq "$((seconds * 5))"); do
        if "$@" >/dev/null 2>&1; then
            return
        fi
        sleep 0.2
    done
    say "timed out waiting for $what"
    exit 1
}

up() {
    mkdir -p "$dev/bin"
    hack/control-plane.sh build
    local bin_dir
    bin_dir=$(hack/control-plane.sh bin-dir)
    ln -sf "$bin_dir/kubectl" "$dev/bin/kubectl"
    ln -sf "$bin_dir/helm" "$dev/bin/helm"
    say "building the operator, the emulator and the control-plane runner"
    cargo build --quiet --workspace --bins
    local target
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

    export KUBECONFIG="$dev/kubeconfig"
    local kubectl="$dev/bin/kubectl"
    if ! running control-plane; then
        rm -f "$KUBECONFIG"
    fi
    start control-plane env KVS_TESTENV_BIN_DIR="$bin_dir" "$target/debug/kvs-control-plane" "$KUBECONFIG"
    wait_for "the API server" 120 "$kubectl" get --raw /readyz
    start emulator "$target/debug/kvs-emulator" --listen "$emulator_addr"
    wait_for "the emulator" 30 curl -sf "http://$emulator_addr/_emulator/health"

    "$kubectl" apply -f crds/ >/dev/null
    "$kubectl" wait --for=condition=Established crd/videostreams.kvs-operator.dev crd/signalingchannels.kvs-operator.dev crd/accountbindings.kvs-operator.dev --timeout=60s >/dev/null
    start operator env AWS_ENDPOINT_URL="http://$emulator_addr" AWS_REGION=us-west-2 \
        AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true \
        "$target/debug/kvs-operator" run --metrics-bind-address "$metrics_addr" --poll-interval 1s
    wait_for "the operator" 60 curl -sf "http://$metrics_addr/readyz"

    "$kubectl" apply -f examples/
    say "waiting for the examples to be Ready"
    "$kubectl" wait --for=condition=Ready videostreams,signalingchannels --all -n cameras --timeout=120s >/dev/null
    "$kubectl" get videostreams,signalingchannels -A -o wide
    cat >&2 <<EOF

The demo runs in the background:
  export KUBECONFIG=$dev/kubeconfig PATH=$dev/bin:\$PATH
  kubectl get vs -A -o wide              # VideoStreams (short name: vs)
  kubectl describe vs front-door -n cameras
  kubectl get sigch doorbell -n cameras -o yaml   # a signaling channel storing into a stream
  curl -s http://$emulator_addr/_emulator/streams   # what "AWS" has
  curl -s http://$metrics_addr/metrics              # the operator's metrics
Logs: .dev/{control-plane,emulator,operator}.log    Stop: hack/dev.sh down
EOF
}

down() {
    local name
    for name in operator emulator control-plane; do
        if running "$name"; then
            kill "$(cat "$dev/$name.pid")"
            # Let it shut down cleanly (the control plane removes its files).
            for _ in $(seq 50); do
                running "$name" || break
                sleep 0.2
            done
            say "$name stopped"
        fi
        rm -f "$dev/$name.pid"
    done
    rm -f "$dev/kubeconfig"
}

status() {
    local name
    for name in control-plane emulator operator; do
        if running "$name"; then
            echo "$name: running (pid $(cat "$dev/$name.pid"))"
        else
            echo "$name: stopped"
        fi
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: hack/dev.sh up|down|status" >&2
    exit 2
    ;;
esac
