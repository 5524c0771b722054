#!/usr/bin/env bash
# tools/demo.sh -- the live demo from a fresh clone: `bash tools/demo.sh`.
#
# Builds hotswap (the C core) into a venv, .venvs/demo (made once, reused),
# then runs `python -m hotswap demo`: a game server edited while it runs
# (see examples/gameserver/README.md).  Exit status: the demo's (0 when
# every check passed).
#
# Environment:
#   PYTHON   the interpreter to use (default: python3; CPython 3.9-3.15)
#   Extra arguments go to the demo (e.g. --fast, --manual).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
venv="$root/.venvs/demo"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# A C compiler for the extension (as .ci/run does).
if ! command -v gcc >/dev/null 2>&1 || [[ ! -e /usr/include/stdio.h ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "== demo: installing gcc and libc6-dev"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends gcc libc6-dev </dev/null
    else
        echo "error: a C compiler (gcc) is needed to build hotswap" >&2
        exit 1
    fi
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "== demo: creating $venv with $("$py" --version 2>&1)"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip "setuptools>=61" wheel
fi
echo "== demo: building and installing hotswap"
log="$venv/build.log"
if ! (cd "$root" && "$venv/bin/python" -m pip install -q --no-build-isolation \
        --force-reinstall --no-deps .) >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: building hotswap failed (log: $log)" >&2
    exit 1
fi
echo "== demo: python -m hotswap demo"
cd "$root"
exec "$venv/bin/python" -m hotswap demo --source "$root/examples/gameserver" "$@"
