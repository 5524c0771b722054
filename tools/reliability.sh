#!/usr/bin/env bash
# tools/reliability.sh -- the reliability checks of docs/reliability.md in
# bounded form, with one command.
#
#   tools/reliability.sh [--quick] [MINOR...]
#
# For each MINOR (default: every supported CPython found under pyenv):
#   1. build + install into .venvs/X.Y (as tools/matrix.sh does), add
#      hypothesis, run tests/test_random_edits.py (HOTSWAP_RANDOM_CYCLES,
#      default 200), tests/test_stdlib_swap.py, tests/test_bad_input.py and
#      tests/test_leaks.py;
#   2. tests/scripts/refcount_cycles.py objects: gc objects, a sentinel's
#      refcount and traced memory flat over 1,000 mixed reload cycles;
#   2b. the swap harnesses in full: tests/scripts/stdlib_swap.py all (every
#      module of stdlib_list.MODULES) and tests/scripts/thirdparty_swap.py
#      all (every package of thirdparty_list.PACKAGES, their test
#      dependencies installed into the venv, sdists cached in .venvs/cache);
#      a table each in .venvs/logs/{stdlib,thirdparty}-swap-X.Y.log.
#      HOTSWAP_SKIP_SWAP=1 skips 2b.
# Then, once:
#   3. a debug interpreter (python3.X-dbg on PATH, or a pyenv X.Y*-debug /
#      *d build with sys.gettotalrefcount): build the extension into a
#      scratch copy of the repo (outside the work tree) and check that
#      sys.gettotalrefcount() stays flat after warm-up over 1,000 cycles;
#      skipped with a message when there is no debug interpreter;
#   4. tools/asan.sh on the reliability test files (ASan+UBSan);
#   5. tools/valgrind.sh (memcheck, errors attributed to the C core).
# --quick skips 4 and 5.  HOTSWAP_SKIP_VALGRIND=1 skips 5 only.
#
# Exit status: non-zero if any step failed (a skipped step does not fail).
set -uo pipefail

# shellcheck source=tools/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

quick=0
minors=()
while (($#)); do
    case "$1" in
        -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        --quick) quick=1 ;;
        3.*) minors+=("$1") ;;
        *) hs_err "unexpected argument '$1' (see --help)"; exit 2 ;;
    esac
    shift
done
((${#minors[@]})) || minors=("${HS_MINORS[@]}")

logdir="$HS_ROOT/.venvs/logs"
mkdir -p "$logdir"
declare -a summary=()
failed=0
note() { summary+=("$*"); hs_say "$*"; }

files=(tests/test_random_edits.py tests/test_stdlib_swap.py
       tests/test_bad_input.py tests/test_leaks.py)

for minor in "${minors[@]}"; do
    if ! py="$(hs_find_python "$minor")"; then
        note "$minor: skipped (no CPython $minor under pyenv)"
        continue
    fi
    venv="$HS_ROOT/.venvs/$minor"
    hs_say "== reliability $minor ($py)"
    if ! hs_ensure_venv "$venv" "$py" "$logdir/$minor-venv.log" ||
       ! "$venv/bin/python" -m pip install -q hypothesis \
            >>"$logdir/$minor-venv.log" 2>&1 ||
       ! hs_build_install "$venv" "$logdir/$minor-build.log"; then
        note "$minor: FAILED to set up/build (logs in $logdir)"
        failed=$((failed + 1)); continue
    fi
    log="$logdir/reliability-$minor-test.log"
    if hs_pytest "$venv" "$log" "${files[@]}" \
            >/dev/null 2>&1; then
        note "$minor: tests ok: $(hs_pytest_summary "$log")"
    else
        note "$minor: tests FAILED: $(hs_pytest_summary "$log") ($log)"
        failed=$((failed + 1))
    fi
    scratch="$(mktemp -d)"
    if out="$(cd / && "$venv/bin/python" -X dev \
            "$HS_ROOT/tests/scripts/refcount_cycles.py" objects "$scratch" \
            2>&1)"; then
        note "$minor: leaks ok: $(tail -n 1 <<<"$out")"
    else
        note "$minor: leaks FAILED: $out"
        failed=$((failed + 1))
    fi
    rm -rf "$scratch"
    if [[ "${HOTSWAP_SKIP_SWAP:-0}" == 1 ]]; then
        note "$minor: swap harnesses: skipped (HOTSWAP_SKIP_SWAP=1)"
        continue
    fi
    slog="$logdir/stdlib-swap-$minor.log"
    if (cd / && "$venv/bin/python" "$HS_ROOT/tests/scripts/stdlib_swap.py" \
            all --json "$logdir/stdlib-swap-$minor.json") >"$slog" 2>&1; then
        note "$minor: stdlib swap ok: $(tail -n 1 "$slog")"
    else
        note "$minor: stdlib swap FAILED: $(tail -n 1 "$slog") ($slog)"
        failed=$((failed + 1))
    fi
    tlog="$logdir/thirdparty-swap-$minor.log"
    if "$HS_ROOT/tools/thirdparty_swap.sh" "$minor" >"$tlog" 2>&1; then
        note "$minor: thirdparty swap ok: $(grep -E '^== thirdparty swap: [0-9]' "$tlog" | tail -n 1)"
    else
        note "$minor: thirdparty swap FAILED: $(grep -E '^== thirdparty swap: [0-9]' "$tlog" | tail -n 1) ($tlog)"
        failed=$((failed + 1))
    fi
done

# -- 3. debug interpreter: sys.gettotalrefcount --------------------------
dbg=""
for cand in python3.13-dbg python3.12-dbg python3.11-dbg python3.10-dbg \
            python3.9-dbg python3-dbg; do
    if command -v "$cand" >/dev/null 2>&1; then dbg="$(command -v "$cand")"; break; fi
done
if [[ -z "$dbg" ]]; then
    root="$(hs_pyenv_root)"
    for d in "$root"/versions/*-debug "$root"/versions/*d; do
        [[ -x "$d/bin/python" ]] || continue
        if "$d/bin/python" -c 'import sys; sys.gettotalrefcount' 2>/dev/null; then
            dbg="$d/bin/python"; break
        fi
    done
fi
if [[ -z "$dbg" ]]; then
    note "debug interpreter: skipped (none found: apt-get install python3.11-dbg python3.11-dev)"
elif ! "$dbg" -c 'import sys; sys.gettotalrefcount' 2>/dev/null; then
    note "debug interpreter: skipped ($dbg has no sys.gettotalrefcount)"
else
    build="$(mktemp -d)"
    (cd "$HS_ROOT" && tar -cf - setup.py pyproject.toml csrc src/hotswap/*.py \
        src/hotswap/*.pyi src/hotswap/py.typed 2>/dev/null) | tar -xf - -C "$build"
    blog="$logdir/reliability-dbg-build.log"
    if (cd "$build" && "$dbg" setup.py build_ext --inplace) >"$blog" 2>&1; then
        scratch="$(mktemp -d)"
        if out="$(cd / && PYTHONPATH="$build/src" "$dbg" -X dev \
                "$HS_ROOT/tests/scripts/refcount_cycles.py" totalrefcount \
                "$scratch" 2>&1)"; then
            note "debug $("$dbg" -c 'import platform; print(platform.python_version())'): ok: $(tail -n 1 <<<"$out")"
        else
            note "debug interpreter: FAILED: $out"
            failed=$((failed + 1))
        fi
        rm -rf "$scratch"
    else
        if grep -q "Python.h" "$blog"; then
            note "debug interpreter: skipped (no headers for $dbg: install python3.X-dev; $blog)"
        else
            note "debug interpreter: FAILED to build ($blog)"
            failed=$((failed + 1))
        fi
    fi
    rm -rf "$build"
fi

# -- 4, 5. sanitizers -----------------------------------------------------
if ((quick)); then
    note "asan/valgrind: skipped (--quick)"
else
    alog="$logdir/reliability-asan.log"
    "$HS_ROOT/.venvs/asan-3.11/bin/python" -m pip install -q hypothesis \
        >/dev/null 2>&1 || true
    if "$HS_ROOT/tools/asan.sh" -- "${files[@]}" >"$alog" 2>&1; then
        note "asan 3.11: ok: $(hs_pytest_summary "$logdir/asan-3.11-test.log")"
    else
        note "asan 3.11: FAILED ($alog): $(hs_pytest_summary "$logdir/asan-3.11-test.log")"
        failed=$((failed + 1))
    fi
    if [[ "${HOTSWAP_SKIP_VALGRIND:-0}" == 1 ]]; then
        note "valgrind: skipped (HOTSWAP_SKIP_VALGRIND=1)"
    else
        vlog="$logdir/reliability-valgrind.log"
        "$HS_ROOT/tools/valgrind.sh" >"$vlog" 2>&1
        case $? in
            0) note "valgrind: $(tail -n 1 "$vlog")" ;;
            2) note "valgrind: skipped: $(tail -n 1 "$vlog")" ;;
            *) note "valgrind: FAILED ($vlog)"; failed=$((failed + 1)) ;;
        esac
    fi
fi

hs_say ""
hs_say "== reliability summary =="
printf '  %s\n' "${summary[@]}"
if ((failed)); then
    hs_say "reliability: FAILED ($failed step(s))"
    exit 1
fi
hs_say "reliability: OK"
