#!/usr/bin/env bash
# Installs and builds everything `cargo test` needs beside cargo, each step cached and a
# no-op once done (hack/test.sh runs this first; run it yourself before `cargo test`):
#   the control plane: etcd, kube-apiserver, kubectl, helm   (hack/control-plane.sh build)
#   kubeconform, promtool, the ServiceMonitor and PrometheusRule CRDs (hack/tools.sh build)
#   Argo CD and redis, for tests/gitops                       (hack/argocd.sh build)
#   the node mode's Debian packages                           (hack/node.sh install, as root)
#   kubelet & co. and the pause image                         (hack/node.sh build)
#   the operator's image from the Dockerfile's build context  (hack/image.sh build)
#   the previous release's chart and image, from its commit   (hack/release.sh previous)
#
#   hack/prepare.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

steps=(
  "hack/control-plane.sh build"
  "hack/tools.sh build"
  "hack/argocd.sh build"
  "hack/node.sh install"
  "hack/node.sh build"
  "hack/image.sh build"
  "hack/release.sh previous"
)
timings=()
for step in "${steps[@]}"; do
  echo "==> $step" >&2
  start=$SECONDS
  # One word per argument.
  # shellcheck disable=SC2086
  $step
  timings+=("$(printf '%-28s %5ss' "$step" $((SECONDS - start)))")
done
echo "==> prepared" >&2
printf '    %s\n' "${timings[@]}" >&2
