#!/usr/bin/env bash
# tools/asan.sh -- run the suite against an ASan+UBSan build of the C core.
#
#   tools/asan.sh [MINOR] [-- PYTEST_ARGS...]      (MINOR defaults to 3.11)
#
# Builds the extension with HOTSWAP_BUILD=asan (setup.py adds -O0 -g -UNDEBUG
# -fsanitize=address,undefined -fno-sanitize-recover=undefined) into its own
# venv, .venvs/asan-X.Y (so .venvs/X.Y keeps a normal build), then runs
# `python -X dev -m pytest` with:
#   LD_PRELOAD=libasan.so   the interpreter is not instrumented, so the ASan
#                           runtime must be loaded first, before libc's malloc
#   PYTHONMALLOC=malloc     no pymalloc arenas and no debug hooks: every object
#                           is its own malloc block, so ASan sees overflows
#                           and use-after-free of Python objects
#   ASAN_OPTIONS=detect_leaks=0   CPython itself leaks at exit
#   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Subprocesses started by the tests inherit all of it.  Values already set in
# the environment for ASAN_OPTIONS/UBSAN_OPTIONS are appended after ours.
#
# Environment: HOTSWAP_ALLOW_NO_TESTS=1 as in tools/matrix.sh.
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

cc="${CC:-gcc}"
libasan="$("$cc" -print-file-name=libasan.so)"
# -print-file-name echoes the bare name back when it finds nothing.
if [[ "$libasan" != /* || ! -e "$libasan" ]]; then
    hs_err "$cc has no libasan.so (Debian: apt-get install libasan8," \
           "or the libasanN matching gcc $("$cc" -dumpversion))"
    exit 1
fi

if ! py="$(hs_find_python "$minor")"; then
    hs_err "no CPython $minor under $(hs_pyenv_root)/versions"
    exit 1
fi
venv="$HS_ROOT/.venvs/asan-$minor"
logdir="$HS_ROOT/.venvs/logs"
mkdir -p "$logdir"
hs_say "== asan $minor: CPython $("$py" -c 'import platform; print(platform.python_version())') ($py)"

if ! hs_ensure_venv "$venv" "$py" "$logdir/asan-$minor-venv.log"; then
    cat "$logdir/asan-$minor-venv.log"
    hs_err "venv setup failed"
    exit 1
fi
if ! HOTSWAP_BUILD=asan hs_build_install "$venv" "$logdir/asan-$minor-build.log"
then
    hs_show_build_log "$logdir/asan-$minor-build.log"
    hs_err "asan build failed (log: $logdir/asan-$minor-build.log)"
    exit 1
fi
# Make sure the sanitizer really is in (a build that ignored HOTSWAP_BUILD
# would pass every test and prove nothing).
so="$(find "$venv/lib" -path '*/hotswap/_core*.so' | head -n 1)"
# (not `ldd | grep -q`: grep -q exits at the first match, ldd then dies of
# SIGPIPE, and pipefail turns that into a failed test)
if [[ "$(ldd "$so")" != *libasan* ]]; then
    hs_err "$so is not linked against libasan: HOTSWAP_BUILD=asan ignored?"
    exit 1
fi
hs_say "   built $so"

export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

if hs_pytest "$venv" "$logdir/asan-$minor-test.log" "${pytest_args[@]}"; then
    hs_say "asan $minor: OK"
else
    rc=$?
    hs_say "asan $minor: FAILED (pytest exit $rc; log: $logdir/asan-$minor-test.log)"
    exit "$rc"
fi
