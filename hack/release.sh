#!/usr/bin/env bash
# Releases of kvs-operator, made from a commit of this repository's history. A release is
# one version said everywhere: the commit's Cargo.toml (what `kvs-operator --version`
# prints), its chart's version and appVersion, the image's tag, and an annotated git tag
# v<version> on the commit. It pushes nothing; `cut` ends by printing what to publish.
#
#   hack/release.sh cut COMMIT [DIR]  check COMMIT (versions agree, none "-dev", the tag
#                                     free or already on COMMIT), build it, copy the
#                                     artifacts into DIR (default dist/v<version>), tag it
#   hack/release.sh build COMMIT      build COMMIT's artifacts into the cache (any version);
#                                     print their directory
#   hack/release.sh previous          build the previous release that hack/release.env
#                                     names (hack/prepare.sh runs this for the upgrade tests)
#   hack/release.sh dir COMMIT        print where COMMIT's build is cached
#
# COMMIT is anything `git rev-parse` reads, in the repository of the current directory
# (where `cut` tags). A build runs COMMIT's own recipe on a `git archive` of it: its
# hack/image.sh (the release binary from its Dockerfile's build context, on the cached
# distroless-like base) and `helm package` of its chart. Artifacts:
#   kvs-operator-<version>.tgz        the chart
#   kvs-operator-<version>.oci.tar    the image (OCI layout, tagged <version>)
#   kvs-operator-<version>            the stripped linux binary of the image
#   crds-<version>.yaml               its CRDs, for clusters that install them apart
#   SHA256SUMS
# cached under ${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/releases/<commit>. COMMIT's
# crates compile in this checkout's build directory (cargo's build.build-dir), so the
# dependencies both lock are compiled once; its binary lands apart from this checkout's.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root="${KVS_CACHE_DIR:-$HOME/.cache/kvs-operator}/releases"
# Bump when a build's recipe or artifacts change, to build cached commits again.
revision=1

log() { printf 'release: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# The full hash of COMMIT in the current directory's repository.
commit_of() {
  git rev-parse --verify --quiet "$1^{commit}" || die "no commit '$1' in $(git rev-parse --show-toplevel)"
}

# What COMMIT's files say: the crate's version, the chart's version and appVersion.
cargo_version() { git show "$1:Cargo.toml" | sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p'; }
chart_field() { git show "$1:charts/kvs-operator/Chart.yaml" | sed -n "s/^$2: *\"\{0,1\}\([^\"]*\)\"\{0,1\} *$/\1/p"; }

# The one version COMMIT states, or a failure naming what disagrees.
version_of() {
  local commit=$1 cargo chart app
  cargo=$(cargo_version "$commit")
  chart=$(chart_field "$commit" version)
  app=$(chart_field "$commit" appVersion)
  [[ -n "$cargo" ]] || die "${commit:0:12}: no version in Cargo.toml's [workspace.package]"
  [[ "$cargo" == "$chart" && "$cargo" == "$app" ]] ||
    die "${commit:0:12} states different versions: Cargo.toml $cargo, Chart.yaml version ${chart:-none} and appVersion ${app:-none}"
  printf '%s\n' "$cargo"
}

helm_bin() {
  local helm
  helm="$("$here/hack/control-plane.sh" bin-dir)/helm"
  [[ -x "$helm" ]] || die "no helm: run hack/control-plane.sh build"
  printf '%s\n' "$helm"
}

# This checkout's build directory, where cargo keeps compiled dependencies.
build_dir() {
  cargo metadata --format-version 1 --no-deps --manifest-path "$here/Cargo.toml" |
    python3 -c 'import json, sys; m = json.load(sys.stdin); print(m.get("build_directory") or m["target_directory"])'
}

cmd_dir() {
  printf '%s/%s\n' "$cache_root" "$(commit_of "$1")"
}

# Builds COMMIT's artifacts into the cache unless they are there; prints the directory.
cmd_build() {
  local commit version dir
  commit=$(commit_of "$1")
  version=$(version_of "$commit")
  dir="$cache_root/$commit"
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.lock"
  flock 9
  if [[ "$(cat "$dir/complete" 2>/dev/null)" != "revision $revision" ]]; then
    build "$commit" "$version" "$dir"
  fi
  printf '%s\n' "$dir"
}

build() {
  local commit=$1 version=$2 dir=$3 start=$SECONDS work helm build_dir
  helm=$(helm_bin)
  build_dir=$(build_dir)
  log "building ${commit:0:12} ($version) into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  work=$(mktemp -d "${TMPDIR:-/tmp}/kvs-release.XXXXXX")
  # A subshell's trap, so the caller's traps stay.
  (
    trap 'rm -rf "$work"' EXIT
    mkdir "$work/src"
    git archive "$commit" | tar -x -C "$work/src"
    [[ -x "$work/src/hack/image.sh" ]] || die "${commit:0:12} has no hack/image.sh to build its image with"
    (cd "$work/src" && CARGO_BUILD_BUILD_DIR="$build_dir" hack/image.sh build) >&2
    local image="$work/src/target/image"
    local tag
    tag=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])' "$image/oci/index.json")
    [[ "$tag" == "$version" ]] || die "the image of ${commit:0:12} is tagged '$tag', not $version"
    local said
    said=$("$image/kvs-operator" --version)
    [[ "$said" == "kvs-operator $version" ]] || die "the binary of ${commit:0:12} says '$said', not kvs-operator $version"
    cp "$image/kvs-operator.oci.tar" "$dir/kvs-operator-$version.oci.tar"
    cp "$image/kvs-operator" "$dir/kvs-operator-$version"
    cat "$work/src"/crds/*.yaml >"$dir/crds-$version.yaml"
    "$helm" package "$work/src/charts/kvs-operator" --destination "$dir" >/dev/null
    [[ -f "$dir/kvs-operator-$version.tgz" ]] || die "helm package made no kvs-operator-$version.tgz"
    (cd "$dir" && sha256sum "kvs-operator-$version.tgz" "kvs-operator-$version.oci.tar" \
      "kvs-operator-$version" "crds-$version.yaml" >SHA256SUMS)
    printf '%s\n' "$commit" >"$dir/commit"
    printf '%s\n' "$version" >"$dir/version"
    printf 'revision %s\n' "$revision" >"$dir/complete"
  )
  log "built ${commit:0:12} ($version) in $((SECONDS - start))s"
}

cmd_previous() {
  # A plain KEY=VALUE file.
  # shellcheck source=release.env disable=SC1091
  source "$here/hack/release.env"
  : "${PREVIOUS_RELEASE:?missing in hack/release.env}"
  local version
  version=$(version_of "$(commit_of "$PREVIOUS_RELEASE")")
  [[ "$version" != *-* ]] || die "hack/release.env names ${PREVIOUS_RELEASE:0:12}, whose version $version is not a release's"
  cmd_build "$PREVIOUS_RELEASE"
}

cmd_cut() {
  local commit version tag out built existing
  commit=$(commit_of "$1")
  version=$(version_of "$commit")
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
    die "${commit:0:12} is version $version: a release's version is MAJOR.MINOR.PATCH; commit that version (Cargo.toml, Cargo.lock, Chart.yaml) and release that commit"
  tag="v$version"
  existing=$(git rev-parse --verify --quiet "refs/tags/$tag^{commit}" || true)
  [[ -z "$existing" || "$existing" == "$commit" ]] ||
    die "$tag already names ${existing:0:12}, not ${commit:0:12}"
  if git cat-file -e "$commit:CHANGELOG.md" 2>/dev/null; then
    git show "$commit:CHANGELOG.md" | grep -q "^## \[$version\]" ||
      die "the CHANGELOG.md of ${commit:0:12} has no section '## [$version]'"
  else
    log "${commit:0:12} has no CHANGELOG.md (it predates the first one)"
  fi
  out=${2:-"$(git rev-parse --show-toplevel)/dist/$tag"}
  built=$(cmd_build "$commit")
  mkdir -p "$out"
  cp "$built"/kvs-operator-"$version".tgz "$built"/kvs-operator-"$version".oci.tar \
    "$built"/kvs-operator-"$version" "$built"/crds-"$version".yaml "$built"/SHA256SUMS "$out/"
  (cd "$out" && sha256sum --quiet -c SHA256SUMS) || die "the artifacts in $out do not match SHA256SUMS"
  if [[ -z "$existing" ]]; then
    git tag -a "$tag" "$commit" -m "kvs-operator $version"
    log "tagged ${commit:0:12} $tag"
  else
    log "$tag already names ${commit:0:12}"
  fi
  cat >&2 <<EOF
release: $tag is ready in $out. Nothing was pushed; to publish it:
  git push origin $tag
  helm push $out/kvs-operator-$version.tgz oci://<registry>/charts
  skopeo copy oci-archive:$out/kvs-operator-$version.oci.tar docker://<registry>/kvs-operator:$version
  and attach $out/* to the release notes of $tag (CHANGELOG.md's section [$version]).
EOF
}

case "${1:-}" in
cut) [[ $# -ge 2 && $# -le 3 ]] || usage; cmd_cut "$2" "${3:-}" ;;
build) [[ $# -eq 2 ]] || usage; cmd_build "$2" ;;
previous) [[ $# -eq 1 ]] || usage; cmd_previous ;;
dir) [[ $# -eq 2 ]] || usage; cmd_dir "$2" ;;
*) usage ;;
esac
