#!/usr/bin/env bash
# The local demo: a real Kubernetes control plane (etcd + kube-apiserver built from the Go
# module proxy), kvs-emulator as the AWS endpoint, and the operator, all in the background.
#
#   hack/dev.sh up           build, start everything, apply examples/, wait for Ready
#   hack/dev.sh up --argocd  the same with Argo CD (built by hack/argocd.sh): examples/ is
#                            committed to a git repository, .dev/gitops, which an Argo CD
#                            Application syncs; edit and commit there to change the streams
#   hack/dev.sh up --node    the same on a one-node cluster (controller-manager, scheduler,
#                            a kubelet on containerd): the operator runs in pods, installed
#                            with `helm install charts/kvs-operator` from the image that
#                            hack/image.sh builds (as root: the node has namespaces of its own)
#   hack/dev.sh down         stop everything; after --node, check that nothing is left
#   hack/dev.sh status       what runs
#
# State lives in .dev/: kubeconfig, bin/ (kubectl, helm), logs, pid files, gitops/. Running
# `up` twice is harmless: what already runs is left alone, and .dev/gitops is kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
dev="$repo/.dev"
emulator_addr=127.0.0.1:4566
metrics_addr=127.0.0.1:8080
# Argo CD's components, at Argo CD's own default ports (redis moved off 6379).
argocd_components=(argocd-redis git-daemon argocd-repo-server argocd-application-controller)
export ARGOCD_LOCAL_DIR="$dev/argocd" ARGOCD_LOCAL_GIT_ROOT="$dev" ARGOCD_LOCAL_GIT_PORT=9418
export ARGOCD_LOCAL_REDIS_PORT=16379 ARGOCD_LOCAL_REPO_SERVER_PORT=8081

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
    local argocd=false
    case "${1:-}" in
    "") ;;
    --argocd) argocd=true ;;
    --node)
        up_node
        return
        ;;
    *)
        echo "usage: hack/dev.sh up [--argocd | --node]" >&2
        exit 2
        ;;
    esac
    mkdir -p "$dev/bin"
    hack/control-plane.sh build
    if $argocd; then
        hack/argocd.sh build
    fi
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

    if $argocd; then
        argocd_up
    else
        "$kubectl" apply -f examples/
    fi
    say "waiting for the examples to be Ready"
    wait_for "the examples' VideoStreams" 60 "$kubectl" get videostream front-door -n cameras
    wait_for "the examples' SignalingChannels" 60 "$kubectl" get signalingchannel doorbell -n cameras
    "$kubectl" wait --for=condition=Ready videostreams,signalingchannels --all -n cameras --timeout=120s >/dev/null
    "$kubectl" get videostreams,signalingchannels -A -o wide
    if $argocd; then
        "$kubectl" wait --for=jsonpath='{.status.health.status}'=Healthy application/cameras \
            -n argocd --timeout=120s >/dev/null
        "$kubectl" get applications -n argocd
        cat >&2 <<EOF

Argo CD syncs .dev/gitops (served at git://127.0.0.1:9418/gitops) into namespace cameras.
Change a stream by committing there:
  cd .dev/gitops; sed -i 's/dataRetentionInHours: 24 /dataRetentionInHours: 48 /' front-door.yaml
  git commit -am "front door: two days"
  kubectl get applications -n argocd -w   # Progressing, then Synced and Healthy again
  kubectl get application cameras -n argocd -o jsonpath='{.status.resources}'   # each one's health
Logs: .dev/argocd-{application-controller,repo-server}.log
EOF
    fi
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

# The node mode. Pods reach this machine at the node link's address (node.env:
# HOST_ADDRESS), so the emulator listens there, on the demo's port.
# HOST_ADDRESS and NODE_DIR are set by sourcing node.env, which shellcheck cannot follow.
# shellcheck disable=SC2153
up_node() {
    mkdir -p "$dev/bin"
    # What hack/prepare.sh does for the node mode (not Argo CD, nor the chart's linters).
    hack/control-plane.sh build
    hack/node.sh install
    hack/node.sh build
    hack/image.sh build
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
    "$kubectl" wait --for=condition=Ready videostreams,signalingchannels --all -n cameras --timeout=180s >/dev/null
    "$kubectl" get videostreams,signalingchannels -A -o wide
    cat >&2 <<EOF

The demo runs in the background, the operator in pods on the node:
  export KUBECONFIG=$dev/kubeconfig PATH=$dev/bin:\$PATH
  kubectl get pods -n kvs-operator -o wide    # two replicas; the Lease names the leader
  kubectl get vs,sigch -A -o wide
  kubectl logs -n kvs-operator -l app.kubernetes.io/name=kvs-operator
  kubectl get --raw /api/v1/namespaces/kvs-operator/services/kvs-operator-metrics:metrics/proxy/metrics
  curl -s http://$emulator/_emulator/streams   # what "AWS" has
Logs: .dev/{control-plane,emulator}.log and $NODE_DIR/logs    Stop: hack/dev.sh down
EOF
}

# Argo CD installed as docs/argocd.md says, its components running locally, and an
# Application for .dev/gitops, a repository holding a copy of examples/.
argocd_up() {
    local kubectl="$dev/bin/kubectl" name
    PATH="$dev/bin:$PATH" hack/argocd.sh install
    for name in "${argocd_components[@]}"; do
        start "$name" hack/argocd.sh run "${name#argocd-}"
    done
    wait_for "Argo CD's application-controller" 60 curl -sf http://127.0.0.1:8082/healthz
    "$kubectl" -n argocd patch configmap argocd-cm --type merge \
        --patch-file deploy/argocd/argocd-cm.yaml >/dev/null
    gitops_repo
    "$kubectl" apply -f - >/dev/null <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: cameras
  namespace: argocd
spec:
  project: default
  source:
    repoURL: git://127.0.0.1:9418/gitops
    targetRevision: main
    path: .
  destination:
    server: https://kubernetes.default.svc
    namespace: cameras
  syncPolicy:
    automated:
      prune: false
      selfHeal: true
EOF
    say "Argo CD syncs .dev/gitops into namespace cameras"
}

# .dev/gitops: examples/ committed once; later runs keep what the user changed. Its
# post-commit hook asks Argo CD to look at once, as a hosted repository's webhook would.
gitops_repo() {
    local repo="$dev/gitops"
    if [[ ! -d "$repo/.git" ]]; then
        mkdir -p "$repo"
        cp examples/*.yaml "$repo/"
        git -C "$repo" init --quiet --initial-branch=main
        git -C "$repo" add --all
        git -C "$repo" -c user.name=demo -c user.email=demo@example.com \
            commit --quiet -m "The examples of kvs-operator"
    fi
    cat >"$repo/.git/hooks/post-commit" <<EOF
#!/bin/sh
# Stands in for a git webhook: Argo CD compares the Application with this commit now.
KUBECONFIG="$dev/kubeconfig" "$dev/bin/kubectl" -n argocd annotate --overwrite \
    application cameras argocd.argoproj.io/refresh=normal >/dev/null 2>&1 || true
EOF
    chmod +x "$repo/.git/hooks/post-commit"
}

down() {
    local name node_dir="" host_address=""
    if [[ -f "$dev/node.env" ]]; then
        node_dir=$(sed -n 's/^NODE_DIR=//p' "$dev/node.env")
        host_address=$(sed -n 's/^HOST_ADDRESS=//p' "$dev/node.env")
    fi
    for name in argocd-application-controller argocd-repo-server git-daemon argocd-redis operator emulator control-plane; do
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
    # The repo-server locks its checkouts (mode 000) between uses: unlock them, so that
    # .dev can be removed.
    if [[ -d "$dev/argocd/tmp" ]]; then
        chmod -R u+rwx "$dev/argocd/tmp"
    fi
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
    for name in control-plane emulator operator "${argocd_components[@]}"; do
        if running "$name"; then
            echo "$name: running (pid $(cat "$dev/$name.pid"))"
        else
            echo "$name: stopped"
        fi
    done
}

case "${1:-}" in
up)
    shift
    up "$@"
    ;;
down) down ;;
status) status ;;
*)
    echo "usage: hack/dev.sh up [--argocd | --node] | down | status" >&2
    exit 2
    ;;
esac
