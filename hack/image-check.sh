#!/usr/bin/env bash
# Proves the Dockerfile without a Docker engine: builds the release binary the
# way its builder stage does, from exactly the files .dockerignore lets into the
# build context, then checks that the binary the runtime stage copies runs and
# needs nothing that gcr.io/distroless/cc-debian12 lacks.
#
#   hack/image-check.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

# What the Dockerfile runs and copies; tests/chart.rs parses the Dockerfile for
# the same relations (binary path, user, entrypoint).
build_cmd="cargo build --release --locked --bin kvs-operator"
binary_in_builder="target/release/kvs-operator"
# distroless/cc-debian12 ships glibc and libgcc_s, from Debian 12 (glibc 2.36).
allowed_libs=(libc.so.6 libm.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1
  libpthread.so.0 libdl.so.2 librt.so.1)
max_glibc=2.36

log() { printf 'image-check: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

grep -qF -- "$build_cmd" Dockerfile || die "the Dockerfile no longer runs '$build_cmd'"
strip_cmd="strip -o /kvs-operator $binary_in_builder"
grep -qF -- "$strip_cmd" Dockerfile || die "the Dockerfile no longer runs '$strip_cmd'"

# The build context: .dockerignore here is an allow-list ('*' then '!path'
# lines); anything else would need a real implementation of its rules.
context=$(mktemp -d "${TMPDIR:-/tmp}/kvs-image-context.XXXXXX")
trap 'rm -rf "$context"' EXIT
while IFS= read -r line; do
  case "$line" in
  '' | '#'*) ;;
  '*') ;;
  '!'*)
    path=${line#!}
    path=${path%/}
    # As with docker, letting in a path that does not exist is no error.
    if [[ -e "$path" ]]; then cp -a --parents "$path" "$context/"; fi
    ;;
  *) die ".dockerignore line '$line' is not of the allow-list form this check understands" ;;
  esac
done <.dockerignore
log "build context: $(find "$context" -type f | wc -l) files, $(du -sh "$context" | cut -f1)"

# Same command in the context; the shared target dir reuses compiled
# dependencies, and the binary lands where the Dockerfile's strip takes it from.
start=$SECONDS
(cd "$context" && CARGO_TARGET_DIR="$repo/target" $build_cmd)
log "release build from the context in $((SECONDS - start))s"

[[ -x "$binary_in_builder" ]] || die "$binary_in_builder was not built"
# The file the runtime stage copies: the stripped binary.
bin="$context/kvs-operator"
strip -o "$bin" "$binary_in_builder"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
got=$("$bin" --version)
[[ "$got" == "kvs-operator $version" ]] || die "--version printed '$got', expected 'kvs-operator $version'"
"$bin" crd | cmp -s - <(cat crds/*.kvs-operator.dev.yaml) ||
  die "'kvs-operator crd' differs from crds/*.kvs-operator.dev.yaml"
"$bin" run --help >/dev/null || die "'kvs-operator run --help' failed"

# Direct dependencies (NEEDED) and everything the loader resolves (ldd).
mapfile -t needed < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
mapfile -t resolved < <(ldd "$bin" | awk '$1 != "linux-vdso.so.1" {print $1}' | xargs -n1 basename)
if ldd "$bin" | grep -q 'not found'; then die "unresolved libraries: $(ldd "$bin")"; fi
for lib in "${needed[@]}" "${resolved[@]}"; do
  allowed=false
  for ok in "${allowed_libs[@]}"; do [[ "$lib" == "$ok" ]] && allowed=true; done
  $allowed || die "$lib is not in distroless/cc (allowed: ${allowed_libs[*]})"
done
newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
[[ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -V | tail -1)" == "$max_glibc" ]] ||
  die "the binary needs GLIBC_$newest, newer than Debian 12's $max_glibc"

size=$(stat -c %s "$bin")
log "$got: needs ${needed[*]} (newest symbol GLIBC_$newest)"
log "release binary: $size bytes ($((size / 1024 / 1024)) MiB) stripped, $(stat -c %s "$binary_in_builder") bytes as built"
