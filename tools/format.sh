#!/usr/bin/env bash
# tools/format.sh -- clang-format csrc/ with the committed .clang-format.
#
#   tools/format.sh --check [FILE...]   report files that differ; exit 1 if any
#   tools/format.sh [FILE...]           rewrite them in place
#
# FILEs default to csrc/*.c csrc/*.h.  Uses a pinned clang-format from PyPI,
# installed once into .venvs/tools, so every machine formats alike.
set -euo pipefail

# shellcheck source=tools/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

CLANG_FORMAT_VERSION=18.1.8

check=0
files=()
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,/^set -eu/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        --check) check=1 ;;
        *) files+=("$arg") ;;
    esac
done
cd "$HS_ROOT"
if ((${#files[@]} == 0)); then
    shopt -s nullglob
    files=(csrc/*.c csrc/*.h)
fi
((${#files[@]})) || { hs_say "nothing to format"; exit 0; }

venv="$HS_ROOT/.venvs/tools"
cf="$venv/bin/clang-format"
if ! [[ -x "$cf" ]] || [[ "$("$cf" --version)" != *" $CLANG_FORMAT_VERSION"* ]]; then
    py="$(command -v python3)" || { hs_err "python3 not found"; exit 1; }
    rm -rf "$venv"
    "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "clang-format==$CLANG_FORMAT_VERSION"
fi

if ((check)); then
    "$cf" --dry-run --Werror "${files[@]}"
    hs_say "format: ${#files[@]} file(s) clean"
else
    "$cf" -i "${files[@]}"
fi
