#!/usr/bin/env bash
# Conformance suite of kvs-emulator: boto3 against the emulator, and the same scenarios
# against moto. Idempotent: the virtualenv in the cache directory is reused while
# requirements.txt is unchanged. Exits non-zero on any failure; never skips.
#
#   emulator/conformance/run.sh [pytest args...]
#
# Environment: KVS_CACHE_DIR (default ~/.cache/kvs-operator), PYTHON (default python3),
# CARGO_TARGET_DIR (honoured).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${KVS_CACHE_DIR:-${HOME:-/tmp}/.cache/kvs-operator}"
venv="$cache/venv-conformance"
python="${PYTHON:-python3}"
requirements="$here/requirements.txt"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
marker="$venv/.requirements.sha256"

if [[ ! -x "$venv/bin/python" || ! -f "$marker" || "$(cat "$marker")" != "$wanted" ]]; then
    echo "conformance: creating $venv from requirements.txt" >&2
    rm -rf "$venv"
    mkdir -p "$cache"
    if ! "$python" -m venv "$venv"; then
        # A Python without the venv module (Debian's without python3-venv): virtualenv.
        rm -rf "$venv"
        "$python" -m pip install --quiet --user virtualenv
        "$python" -m virtualenv --quiet "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-input -r "$requirements"
    # Written last: an interrupted install is redone on the next run.
    echo "$wanted" >"$marker"
else
    echo "conformance: reusing $venv" >&2
fi

echo "conformance: building kvs-emulator" >&2
(cd "$repo" && cargo build --quiet -p kvs-emulator --bin kvs-emulator)
target="${CARGO_TARGET_DIR:-$(cd "$repo" && cargo metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}"
export KVS_EMULATOR_BIN="$target/debug/kvs-emulator"
if [[ ! -x "$KVS_EMULATOR_BIN" ]]; then
    echo "conformance: $KVS_EMULATOR_BIN missing after the build" >&2
    exit 1
fi

export PYTHONDONTWRITEBYTECODE=1
cd "$here"
exec "$venv/bin/python" -m pytest "$@"
