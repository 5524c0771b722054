#!/usr/bin/env bash
# tools/thirdparty_swap.sh -- the third-party swap suite: popular pure-Python
# PyPI packages (sdists with their own tests, pinned in
# tests/scripts/thirdparty_list.py) hot-swapped in place in three rounds
# while their own pytest suites run in the same process.
#
#   tools/thirdparty_swap.sh [--reduced] [--only a,b] [MINOR...]
#
# For each MINOR (default: every supported CPython found under pyenv): the
# venv .venvs/X.Y of tools/matrix.sh (made if missing) gets the suites' test
# dependencies (thirdparty_list.TEST_DEPS) and a fresh build of hotswap,
# then tests/scripts/thirdparty_swap.py all runs every package (--reduced:
# the CI subset, thirdparty_list.REDUCED; --only: the packages named).  The
# sdists are downloaded once into .venvs/cache/sdists (pip download
# --no-binary :all: --no-deps).  Per interpreter it prints one line per
# package (tests run, the result of each round) and a table; the JSON of
# the results goes to .venvs/logs/thirdparty-X.Y.json.
#
# Exit status: non-zero if a package diverged other than its known failures
# say (see swapcheck.judge), or a build failed.
set -uo pipefail

# shellcheck source=tools/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"

only=""
minors=()
while (($#)); do
    case "$1" in
        -h|--help) sed -n '2,/^set -uo/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        --reduced) only="REDUCED" ;;
        --only) shift; only="${1:-}" ;;
        3.*) minors+=("$1") ;;
        *) hs_err "unexpected argument '$1' (see --help)"; exit 2 ;;
    esac
    shift
done
((${#minors[@]})) || minors=("${HS_MINORS[@]}")

logdir="$HS_ROOT/.venvs/logs"
mkdir -p "$logdir"
scripts="$HS_ROOT/tests/scripts"
failed=0
declare -a summary=()

for minor in "${minors[@]}"; do
    if ! py="$(hs_find_python "$minor")"; then
        summary+=("$minor: skipped (no CPython $minor under pyenv)")
        continue
    fi
    venv="$HS_ROOT/.venvs/$minor"
    hs_say "== thirdparty swap $minor ($py)"
    deps="$("$py" -c "import sys; sys.path.insert(0, '$scripts')
import thirdparty_list as t; print(' '.join(t.TEST_DEPS))")"
    if [[ "$only" == REDUCED ]]; then
        only_arg="$("$py" -c "import sys; sys.path.insert(0, '$scripts')
import thirdparty_list as t; print(','.join(t.REDUCED))")"
    else
        only_arg="$only"
    fi
    # shellcheck disable=SC2086  # deps is a list of requirement words
    if ! hs_ensure_venv "$venv" "$py" "$logdir/$minor-venv.log" ||
       ! "$venv/bin/python" -m pip install -q $deps \
            >>"$logdir/$minor-venv.log" 2>&1 ||
       ! hs_build_install "$venv" "$logdir/$minor-build.log"; then
        summary+=("$minor: FAILED to set up/build (logs in $logdir)")
        failed=$((failed + 1))
        continue
    fi
    log="$logdir/thirdparty-$minor.log"
    args=(all --cache "$HS_ROOT/.venvs/cache"
          --json "$logdir/thirdparty-$minor.json")
    [[ -n "$only_arg" ]] && args+=(--only "$only_arg")
    if (cd / && "$venv/bin/python" "$scripts/thirdparty_swap.py" \
            "${args[@]}") 2>&1 | tee "$log"; [[ "${PIPESTATUS[0]}" == 0 ]]
    then
        summary+=("$minor: ok: $(tail -n 1 "$log")")
    else
        summary+=("$minor: FAILED: $(tail -n 1 "$log") ($log)")
        failed=$((failed + 1))
    fi
done

hs_say ""
hs_say "== thirdparty swap summary =="
printf '  %s\n' "${summary[@]}"
((failed == 0))
