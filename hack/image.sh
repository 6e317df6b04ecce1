#!/usr/bin/env bash
# Builds the operator's OCI image without a Docker engine or a registry, as the
# Dockerfile describes it: the release binary that hack/image-check.sh builds from the
# Dockerfile's build context, stripped as its builder stage strips it, on a base that
# holds what gcr.io/distroless/cc-debian12 holds (glibc, libgcc_s, CA certificates, tzdata,
# /etc/passwd with the nonroot user 65532), assembled from Debian 12's own packages
# with umoci. USER, ENTRYPOINT and CMD are read from the Dockerfile, not typed twice.
#
#   hack/image.sh build    target/image/oci (OCI layout) and target/image/kvs-operator.oci.tar
#   hack/image.sh ref      print the image's name, as containerd stores it
#
# testenv's NodeCluster imports the tar into its containerd; `ctr images import
# --base-name docker.io/library/kvs-operator target/image/kvs-operator.oci.tar` does the
# same by hand. The base is cached in ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/image-base,
# keyed by the Debian package versions.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

out="$repo/target/image"
cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/image-base"
# What distroless/cc-debian12 is made of (its static, base and cc layers), as packages.
base_packages=(base-files netbase tzdata ca-certificates libc6 libgcc-s1)
# The repository the chart's image.repository names, as containerd normalises it.
repository=docker.io/library/kvs-operator

log() { printf 'image: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

version() { sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml; }

# The exec-form argument of a Dockerfile instruction of the final stage, e.g. ENTRYPOINT.
dockerfile_arg() {
  local instruction=$1 value
  value=$(awk -v i="$instruction" '$1 == "FROM" { v = "" } $1 == i { $1 = ""; v = substr($0, 2) } END { print v }' Dockerfile)
  [[ -n "$value" ]] || die "the Dockerfile's last stage has no $instruction"
  printf '%s\n' "$value"
}

# ["a", "b"] -> one element per line, for umoci's repeated flags.
exec_form() {
  python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1])))' "$1"
}

base_key() {
  local digest
  digest=$({
    apt-cache policy "${base_packages[@]}" | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }'
    # Bump to force a rebuild when this script changes how the base is assembled.
    printf 'revision 1\n'
  } | sha256sum | cut -c1-12)
  printf 'base-%s\n' "$digest"
}

# Unpacks the Debian packages (no maintainer scripts run) and does by hand the two
# things their scripts would: the CA bundle and the loader cache. Then the users and
# directories distroless adds: root, nobody, nonroot (65532) with /home/nonroot, and /tmp.
assemble_base() {
  local work=$1 rootfs=$1/rootfs
  rm -rf "$work"
  mkdir -p "$work/debs" "$rootfs"
  # As root, apt would fetch as its sandbox user, which cannot write here. Stale package
  # lists name versions the mirror no longer has: refresh them once then.
  download() { (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${base_packages[@]}" >/dev/null); }
  if ! download; then
    apt-get update -q >/dev/null
    download
  fi
  local deb
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$rootfs"; done
  # update-ca-certificates' default: every certificate the package ships, one bundle.
  mkdir -p "$rootfs/etc/ssl/certs"
  find "$rootfs/usr/share/ca-certificates" -name '*.crt' | sort | xargs cat >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  ldconfig -r "$rootfs"
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
  printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
  mkdir -p "$rootfs/root" "$rootfs/home/nonroot" "$rootfs/tmp"
  chmod 700 "$rootfs/root"
  chown 65532:65532 "$rootfs/home/nonroot"
  chmod 1777 "$rootfs/tmp"
  # Documentation but the licences, as distroless keeps them.
  rm -rf "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian"
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  rm -rf "$work/debs"
}

# The cached base rootfs, assembled unless it is already there.
base_rootfs() {
  local key dir
  key=$(base_key)
  dir="$cache_root/$key"
  mkdir -p "$cache_root"
  exec 8>"$cache_root/.lock"
  flock 8
  if [[ ! -f "$dir/complete" ]]; then
    log "assembling the base from Debian packages: ${base_packages[*]}"
    assemble_base "$dir"
    touch "$dir/complete"
  fi
  printf '%s\n' "$dir/rootfs"
}

cmd_build() {
  command -v umoci >/dev/null || die "umoci is missing: run hack/node.sh install"
  # The release binary from the Dockerfile's build context, checked to run on the base.
  "$repo/hack/image-check.sh"
  local start=$SECONDS rootfs tag
  rootfs=$(base_rootfs)
  tag=$(version)

  # COPY --from=builder /kvs-operator <destination>: the builder's strip output.
  local copy source destination
  copy=$(awk '$1 == "COPY" && $2 == "--from=builder" { print $3, $4 }' Dockerfile)
  read -r source destination <<<"$copy"
  [[ "$source" == /kvs-operator && -n "$destination" ]] ||
    die "the Dockerfile no longer copies the builder's /kvs-operator: '$copy'"
  mkdir -p "$out"
  strip -o "$out/kvs-operator" target/release/kvs-operator

  local layout="$out/oci" config=()
  rm -rf "$layout" "$out/kvs-operator.oci.tar"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci insert --image "$layout:$tag" "$rootfs" /
  umoci insert --image "$layout:$tag" "$out/kvs-operator" "$destination"
  config+=(--config.user "$(dockerfile_arg USER)")
  local arg
  while IFS= read -r arg; do config+=(--config.entrypoint "$arg"); done < <(exec_form "$(dockerfile_arg ENTRYPOINT)")
  while IFS= read -r arg; do config+=(--config.cmd "$arg"); done < <(exec_form "$(dockerfile_arg CMD)")
  # distroless' environment.
  config+=(--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  config+=(--config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
  umoci config --image "$layout:$tag" "${config[@]}" --config.workingdir / \
    --author kvs-operator --history.created_by "hack/image.sh from the Dockerfile"
  umoci gc --layout "$layout"
  tar -C "$layout" -cf "$out/kvs-operator.oci.tar" .
  log "$repository:$tag: $(du -sh "$out/kvs-operator.oci.tar" | cut -f1) in $out/kvs-operator.oci.tar (assembled in $((SECONDS - start))s)"
}

case "${1:-}" in
build) cmd_build ;;
ref) printf '%s:%s\n' "$repository" "$(version)" ;;
*)
  sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
  ;;
esac
