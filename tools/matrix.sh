#!/usr/bin/env bash
# tools/matrix.sh -- build and test hotswap on every supported CPython.
#
#   tools/matrix.sh [MINOR...] [-- PYTEST_ARGS...]
#
#   tools/matrix.sh                 3.9 3.10 3.11 3.12 3.13
#   tools/matrix.sh 3.12            only 3.12
#   tools/matrix.sh 3.9 3.13 -- -k reload -x
#
# For each minor: the newest X.Y.Z under $(pyenv root)/versions/ (a missing
# minor is skipped with a message), a venv in .venvs/X.Y (made once, reused),
# a fresh build of the C extension with setup.py's flags (-Werror) installed
# into it, then `python -X dev -m pytest -q -p no:cacheprovider tests`.
# Exit status is non-zero if any interpreter fails to build or test, or if
# none is found.
#
# Environment:
#   HOTSWAP_ALLOW_NO_TESTS=1  pytest's "no tests collected" (exit 5) passes
#   HOTSWAP_REQUIRE_ALL=1     a missing interpreter fails instead of skipping
#   HOTSWAP_BUILD=debug       build with -O0 -g -UNDEBUG (see setup.py)
#   PYENV_ROOT                where to look when pyenv is not on PATH
#                             (default ~/.pyenv)
set -uo pipefail

# shellcheck source=tools/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

usage() { sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; }

minors=()
pytest_args=()
while (($#)); do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --) shift; pytest_args=("$@"); break ;;
        *)
            ok=0
            for m in "${HS_MINORS[@]}"; do [[ "$1" == "$m" ]] && ok=1; done
            if ((!ok)); then
                hs_err "unsupported version '$1' (supported: ${HS_MINORS[*]})"
                exit 2
            fi
            minors+=("$1")
            ;;
    esac
    shift
done
((${#minors[@]})) || minors=("${HS_MINORS[@]}")

case "${HOTSWAP_BUILD:-}" in
    ""|debug) ;;
    *) hs_err "HOTSWAP_BUILD=${HOTSWAP_BUILD} is not for the matrix" \
              "(tools/asan.sh does sanitizer builds)"; exit 2 ;;
esac

logdir="$HS_ROOT/.venvs/logs"
mkdir -p "$logdir"

root="$(hs_pyenv_root)"
if [[ -z "$root" ]]; then
    hs_err "no pyenv root: pyenv is not on PATH and neither \$PYENV_ROOT" \
           "nor ~/.pyenv has a versions/ directory"
    exit 1
fi

declare -A result detail
found=0
failed=0
tot_passed=0 tot_failed=0 tot_skipped=0
t_start=$SECONDS

for minor in "${minors[@]}"; do
    if ! py="$(hs_find_python "$minor")"; then
        if [[ "${HOTSWAP_REQUIRE_ALL:-0}" == 1 ]]; then
            hs_say "== $minor: MISSING: no $root/versions/$minor.N (required)"
            result[$minor]="MISSING"
            failed=$((failed + 1))
        else
            hs_say "== $minor: skipped: no $root/versions/$minor.N"
            result[$minor]="skipped"
        fi
        detail[$minor]="not installed under $root/versions"
        continue
    fi
    found=$((found + 1))
    version="$("$py" -c 'import platform; print(platform.python_version())')"
    venv="$HS_ROOT/.venvs/$minor"
    hs_say "== $minor: CPython $version ($py)"

    t0=$SECONDS
    if ! hs_ensure_venv "$venv" "$py" "$logdir/$minor-venv.log"; then
        cat "$logdir/$minor-venv.log"
        hs_say "== $minor: FAILED to set up $venv"
        result[$minor]="FAILED"
        detail[$minor]="$version: venv setup failed ($logdir/$minor-venv.log)"
        failed=$((failed + 1))
        continue
    fi

    t1=$SECONDS
    if ! hs_build_install "$venv" "$logdir/$minor-build.log"; then
        hs_show_build_log "$logdir/$minor-build.log"
        hs_say "== $minor: FAILED to build (log: $logdir/$minor-build.log)"
        result[$minor]="FAILED"
        detail[$minor]="$version: build failed"
        failed=$((failed + 1))
        continue
    fi
    t2=$SECONDS
    hs_say "   built in $((t2 - t1))s (venv $((t1 - t0))s); running tests"

    if hs_pytest "$venv" "$logdir/$minor-test.log" "${pytest_args[@]}"; then
        rc=0
        result[$minor]="ok"
    else
        rc=$?
        result[$minor]="FAILED"
        failed=$((failed + 1))
    fi
    t3=$SECONDS
    summary="$(hs_pytest_summary "$logdir/$minor-test.log")"
    [[ "$rc" == 0 ]] || summary="pytest exit $rc; ${summary:-no summary}"
    detail[$minor]="$version: build $((t2 - t1))s, tests $((t3 - t2))s: ${summary:-no summary}"
    tot_passed=$((tot_passed + $(hs_count passed "$summary")))
    tot_failed=$((tot_failed + $(hs_count failed "$summary") \
        + $(hs_count error "$summary")))
    tot_skipped=$((tot_skipped + $(hs_count skipped "$summary")))
    hs_say "== $minor: ${result[$minor]}"
done

hs_say ""
hs_say "== matrix summary ($((SECONDS - t_start))s) =="
for minor in "${minors[@]}"; do
    printf '  %-5s %-8s %s\n' "$minor" "${result[$minor]}" "${detail[$minor]}"
done
if ((found == 0)); then
    hs_say "matrix: FAILED: no CPython ${minors[*]} found under $root/versions"
    exit 1
fi
skipped=()
for minor in "${minors[@]}"; do
    [[ "${result[$minor]}" == skipped ]] && skipped+=("$minor")
done
note=""
((${#skipped[@]})) && note=" (not installed, skipped: ${skipped[*]})"
if ((failed)); then
    hs_say "matrix: FAILED on $failed of ${#minors[@]} interpreter(s)$note"
else
    hs_say "matrix: OK on $found interpreter(s)$note"
fi
# Tests summed over the interpreters (errors count as failed).
hs_say "total: $tot_passed passed, $tot_failed failed, $tot_skipped skipped"
((failed == 0))
