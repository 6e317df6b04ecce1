#!/usr/bin/env bash
# The local demo: a real Kubernetes control plane (etcd + kube-apiserver built from the Go
# module proxy), kvs-emulator as the AWS endpoint, and the operator, all in the background.
#
#   hack/dev.sh up          build, start everything, apply examples/, wait for Ready
#   hack/dev.sh up --node   the same on a one-node cluster (controller-manager, scheduler,
#                           a kubelet on containerd): the operator runs in pods, installed
#                           with `helm install charts/kvs-operator` from the image that
#                           hack/image.sh builds (as root: the node has namespaces of its own)
#   hack/dev.sh down        stop everything; after --node, check that nothing is left
#   hack/dev.sh status      what runs
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
    case "${1:-}" in
    --node)
        up_node
        return
        ;;
    "") ;;
    *)
        say "unknown option $1"
        exit 2
        ;;
    esac
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
    "$kubectl" wait --for=condition=Established crd/videostreams.kvs-operator.dev crd/accountbindings.kvs-operator.dev --timeout=60s >/dev/null
    start operator env AWS_ENDPOINT_URL="http://$emulator_addr" AWS_REGION=us-west-2 \
        AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_EC2_METADATA_DISABLED=true \
        "$target/debug/kvs-operator" run --metrics-bind-address "$metrics_addr" --poll-interval 1s
    wait_for "the operator" 60 curl -sf "http://$metrics_addr/readyz"

    "$kubectl" apply -f examples/
    say "waiting for the examples to be Ready"
    "$kubectl" wait --for=condition=Ready videostreams --all -n cameras --timeout=120s >/dev/null
    "$kubectl" get videostreams -A -o wide
    cat >&2 <<EOF

The demo runs in the background:
  export KUBECONFIG=$dev/kubeconfig PATH=$dev/bin:\$PATH
  kubectl get vs -A -o wide              # VideoStreams (short name: vs)
  kubectl describe vs front-door -n cameras
  curl -s http://$emulator_addr/_emulator/streams   # what "AWS" has
  curl -s http://$metrics_addr/metrics              # the operator's metrics
Logs: .dev/{control-plane,emulator,operator}.log    Stop: hack/dev.sh down
EOF
}

# The node mode. Pods reach this machine at the node link's address (node.env:
# HOST_ADDRESS), so the emulator listens there, on the demo's port.
up_node() {
    mkdir -p "$dev/bin"
    hack/prepare.sh
    local bin_dir
    bin_dir=$(hack/control-plane.sh bin-dir)
    ln -sf "$bin_dir/kubectl" "$dev/bin/kubectl"
    ln -sf "$bin_dir/helm" "$dev/bin/helm"
    say "building the emulator and the cluster runner"
    cargo build --quiet -p kvs-emulator --bin kvs-emulator -p kvs-testenv --bin kvs-control-plane
    local target
    target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

    export KUBECONFIG="$dev/kubeconfig"
    local kubectl="$dev/bin/kubectl" helm="$dev/bin/helm"
    if ! running control-plane; then
        rm -f "$KUBECONFIG" "$dev/node.env"
    fi
    start control-plane env KVS_TESTENV_BIN_DIR="$bin_dir" "$target/debug/kvs-control-plane" \
        --node --env-file "$dev/node.env" \
        --import "$repo/target/image/kvs-operator.oci.tar=$(hack/image.sh ref)" "$KUBECONFIG"
    wait_for "the one-node cluster" 300 test -s "$KUBECONFIG"
    # shellcheck source=/dev/null
    source "$dev/node.env"
    local emulator="$HOST_ADDRESS:${emulator_addr##*:}"
    start emulator "$target/debug/kvs-emulator" --listen "$emulator"
    wait_for "the emulator" 30 curl -sf "http://$emulator/_emulator/health"

    if ! "$helm" status kvs-operator -n kvs-operator >/dev/null 2>&1; then
        "$kubectl" create namespace kvs-operator >/dev/null
        # Static credentials for the emulator, from a Secret, as IRSA would give real ones.
        "$kubectl" create secret generic aws-credentials -n kvs-operator \
            --from-literal=access-key-id=demo --from-literal=secret-access-key=demo >/dev/null
        say "helm install charts/kvs-operator"
        "$helm" install kvs-operator charts/kvs-operator -n kvs-operator --wait --timeout 5m \
            --set image.pullPolicy=Never \
            --set aws.region=us-west-2 \
            --set "aws.endpointUrl=http://$emulator" \
            --set operator.pollInterval=1s \
            --set 'extraEnv[0].name=AWS_ACCESS_KEY_ID' \
            --set 'extraEnv[0].valueFrom.secretKeyRef.name=aws-credentials' \
            --set 'extraEnv[0].valueFrom.secretKeyRef.key=access-key-id' \
            --set 'extraEnv[1].name=AWS_SECRET_ACCESS_KEY' \
            --set 'extraEnv[1].valueFrom.secretKeyRef.name=aws-credentials' \
            --set 'extraEnv[1].valueFrom.secretKeyRef.key=secret-access-key' \
            --set 'extraEnv[2].name=AWS_EC2_METADATA_DISABLED' \
            --set-string 'extraEnv[2].value=true' >/dev/null
    fi
    "$kubectl" get pods -n kvs-operator -o wide

    "$kubectl" apply -f examples/
    say "waiting for the examples to be Ready"
    "$kubectl" wait --for=condition=Ready videostreams --all -n cameras --timeout=180s >/dev/null
    "$kubectl" get videostreams -A -o wide
    cat >&2 <<EOF

The demo runs in the background, the operator in pods on the node:
  export KUBECONFIG=$dev/kubeconfig PATH=$dev/bin:\$PATH
  kubectl get pods -n kvs-operator -o wide    # two replicas; the Lease names the leader
  kubectl get vs -A -o wide
  kubectl logs -n kvs-operator -l app.kubernetes.io/name=kvs-operator
  kubectl get --raw /api/v1/namespaces/kvs-operator/services/kvs-operator-metrics:metrics/proxy/metrics
  curl -s http://$emulator/_emulator/streams   # what "AWS" has
Logs: .dev/{control-plane,emulator}.log and $NODE_DIR/logs    Stop: hack/dev.sh down
EOF
}

down() {
    local name node_dir="" host_address=""
    if [[ -f "$dev/node.env" ]]; then
        node_dir=$(sed -n 's/^NODE_DIR=//p' "$dev/node.env")
        host_address=$(sed -n 's/^HOST_ADDRESS=//p' "$dev/node.env")
    fi
    for name in operator emulator control-plane; do
        if running "$name"; then
            kill "$(cat "$dev/$name.pid")"
            # Let it shut down cleanly (the control plane removes its files; a node stops
            # its pods first).
            for _ in $(seq 300); do
                running "$name" || break
                sleep 0.2
            done
            say "$name stopped"
        fi
        rm -f "$dev/$name.pid"
    done
    rm -f "$dev/kubeconfig" "$dev/node.env"
    if [[ -n "$node_dir" ]]; then
        check_node_gone "$node_dir" "$host_address"
    fi
}

# Fails unless the node left nothing behind: no process of its directory, no mount (its
# containers' and network namespaces' included), no directory, and no link of its slot
# (which lives as long as the node's network namespace; testenv's node/link.rs).
check_node_gone() {
    local node_dir=$1 host_address=$2 left=() pid
    local slot=${host_address#*.*.}
    slot=${slot%.*}
    if ip link show "kvsn$slot" >/dev/null 2>&1; then left+=("link kvsn$slot"); fi
    if grep -qF "$node_dir" /proc/self/mountinfo; then
        left+=("$(grep -cF "$node_dir" /proc/self/mountinfo) mounts")
    fi
    for pid in /proc/[0-9]*; do
        if tr '\0' ' ' <"$pid/cmdline" 2>/dev/null | grep -qF "$node_dir"; then
            left+=("process ${pid#/proc/}")
        fi
    done
    if [[ -e "$node_dir" ]]; then left+=("$node_dir"); fi
    if ((${#left[@]})); then
        say "the node left behind: ${left[*]}"
        exit 1
    fi
    say "the node left no process, mount, network namespace, link or file behind"
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
up) up "${2:-}" ;;
down) down ;;
status) status ;;
*)
    echo "usage: hack/dev.sh up [--node]|down|status" >&2
    exit 2
    ;;
esac
