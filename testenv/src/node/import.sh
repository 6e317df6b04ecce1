#!/usr/bin/env bash
# Imports an OCI archive into the node's containerd, for the kubelet:
#   import.sh TAR BASE_NAME REF
# BASE_NAME + the archive's tag is the image's name (REF). containerd's CRI only serves
# images it has indexed, which it marks with a label; an import that lands while the CRI
# is still starting is missed, so it is repeated until the label shows.
set -euo pipefail
tar=$1 base_name=$2 ref=$3
for attempt in $(seq 50); do
  ctr --address "$CONTAINERD_SOCKET" -n k8s.io images import --base-name "$base_name" "$tar" >/dev/null
  if ctr --address "$CONTAINERD_SOCKET" -n k8s.io images ls "name==$ref" | grep -q 'io.cri-containerd.image=managed'; then
    echo "imported $ref (attempt $attempt)"
    exit 0
  fi
  sleep 0.2
done
echo "containerd's CRI never indexed $ref" >&2
exit 1
