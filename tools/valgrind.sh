#!/usr/bin/env bash
# tools/valgrind.sh -- run a representative part of the suite under
# valgrind memcheck and report every error whose stack goes through the C
# core (hotswap._core, csrc/*.c).
#
#   tools/valgrind.sh [MINOR] [-- PYTEST_ARGS...]     (MINOR defaults to 3.11)
#
# Builds the extension with HOTSWAP_BUILD=debug (-O0 -g) into its own venv,
# .venvs/valgrind-X.Y, then runs pytest under
#   valgrind --tool=memcheck --num-callers=40 --track-origins=yes
# with PYTHONMALLOC=malloc (no pymalloc arenas: every object is its own
# malloc block, so memcheck sees use-after-free and overflows of objects).
#
# CPython's own noise: the interpreter itself is not clean under memcheck
# (its GC, dict and unicode code read uninitialised words on purpose in a
# few places, and it leaks at exit).  Instead of a long suppression list that
# rots with every CPython release, the log is filtered: an error counts only
# when one of its frames is in _core*.so or csrc/.  CPython's
# Misc/valgrind-python.supp is used as well when the interpreter's source
# tree is found next to it.  Leak checking is off (CPython leaks at exit by
# design; tests/test_leaks.py and tools/reliability.sh check growth instead).
#
# Default tests (override after --): the in-process scenario files, and the
# random edit sequences bounded to HOTSWAP_RANDOM_CYCLES (default here 50).
# Subprocess scenarios run uninstrumented children, so they are left out.
#
# Exit status: 0 when no error is attributed to the C core (whatever pytest
# says: test failures are reported by the normal runs), 1 otherwise, 2 when
# valgrind or the interpreter is missing.
set -uo pipefail

# shellcheck source=tools/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

minor=3.11
pytest_args=()
while (($#)); do
    case "$1" in
        -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        --) shift; pytest_args=("$@"); break ;;
        3.*) minor="$1" ;;
        *) hs_err "unexpected argument '$1' (see --help)"; exit 2 ;;
    esac
    shift
done
if ((${#pytest_args[@]} == 0)); then
    pytest_args=(tests/test_functions.py tests/test_classes.py
                 tests/test_data.py tests/test_errors.py tests/test_patch.py
                 tests/test_report.py tests/test_random_edits.py
                 -k "not 50mb")
fi

if ! command -v valgrind >/dev/null 2>&1; then
    hs_err "valgrind not found (Debian: apt-get install valgrind)"
    exit 2
fi
if ! py="$(hs_find_python "$minor")"; then
    hs_err "no CPython $minor under $(hs_pyenv_root)/versions"
    exit 2
fi
venv="$HS_ROOT/.venvs/valgrind-$minor"
logdir="$HS_ROOT/.venvs/logs"
mkdir -p "$logdir"
hs_say "== valgrind $minor: CPython $("$py" -c 'import platform; print(platform.python_version())') ($py)"
if ! hs_ensure_venv "$venv" "$py" "$logdir/valgrind-$minor-venv.log"; then
    cat "$logdir/valgrind-$minor-venv.log"; exit 2
fi
"$venv/bin/python" -c 'import hypothesis' 2>/dev/null \
    || "$venv/bin/python" -m pip install -q hypothesis \
        >>"$logdir/valgrind-$minor-venv.log" 2>&1 || true
if ! HOTSWAP_BUILD=debug hs_build_install "$venv" \
        "$logdir/valgrind-$minor-build.log"; then
    hs_show_build_log "$logdir/valgrind-$minor-build.log"
    hs_err "debug build failed"; exit 2
fi

supp=()
srcdir="$("$py" -c 'import sysconfig; print(sysconfig.get_config_var("srcdir") or "")')"
for f in "$srcdir/Misc/valgrind-python.supp" \
         "$(dirname "$py")/../Misc/valgrind-python.supp"; do
    if [[ -f "$f" ]]; then supp=(--suppressions="$f"); break; fi
done

vlog="$logdir/valgrind-$minor.log"
plog="$logdir/valgrind-$minor-pytest.log"
rm -f "$vlog"
hs_say "   running pytest under memcheck (slow); log $vlog"
t0=$SECONDS
(
    cd "$HS_ROOT" &&
    PYTHONMALLOC=malloc HOTSWAP_RANDOM_CYCLES="${HOTSWAP_RANDOM_CYCLES:-50}" \
    valgrind --tool=memcheck --num-callers=40 --track-origins=yes \
        --leak-check=no --error-limit=no "${supp[@]}" \
        --log-file="$vlog" \
        "$venv/bin/python" -X dev -m pytest -q -p no:cacheprovider \
            "${pytest_args[@]}" </dev/null
) >"$plog" 2>&1
prc=$?
hs_say "   pytest exit $prc in $((SECONDS - t0))s: $(hs_pytest_summary "$plog")"
# valgrind that could not start the interpreter ran no test: that is no
# verdict.  (Seen with bookworm's valgrind 3.19 and the 3.14/3.15 made from
# Debian sid's packages: their ld.so is stripped and its debug info is
# compressed in a form 3.19 does not read, so the mandatory strlen
# redirection cannot be set up.)
if grep -q "Fatal error at startup" "$vlog" 2>/dev/null \
    || [[ -z "$(hs_pytest_summary "$plog")" ]]; then
    sed -n '/Fatal error/,/exiting now/p' "$vlog" 2>/dev/null | head -20
    hs_say "valgrind $minor: NO VERDICT: the suite did not run under memcheck"
    exit 2
fi

# Split the log into error blocks (a block starts at a line "==PID== X" after
# an empty "==PID== " line) and keep those with a frame in our code.
# Our frames: symbolised ones name a csrc file, "fn (reload.c:123)";
# unsymbolised ones name the shared object, "in .../_core.cpython-...so".
ours="$logdir/valgrind-$minor-core-errors.txt"
srcs="$(cd "$HS_ROOT/csrc" && ls -- *.c | sed 's/\.c$//' | paste -sd'|')"
pat="(\\((${srcs})\\.c:[0-9]+\\)|_core[^ ]*\\.so|csrc/)"
awk -v pat="$pat" '
    /^==[0-9]+== *$/ { if (blk != "" && blk ~ pat) print blk "\n"; blk = ""; next }
    /^==[0-9]+== / { blk = blk $0 "\n" }
    END { if (blk != "" && blk ~ pat) print blk }
' "$vlog" >"$ours"
total="$(grep -E '^==[0-9]+== ERROR SUMMARY' "$vlog" | tail -n 1)"
n_ours="$(grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination)' "$ours" || true)"
hs_say "   memcheck: ${total#*== } (all of the process)"
if [[ "${n_ours:-0}" != 0 ]]; then
    hs_say "valgrind $minor: $n_ours error(s) with a frame in the C core:"
    cat "$ours"
    exit 1
fi
hs_say "valgrind $minor: OK (no memcheck error attributed to hotswap._core)"
