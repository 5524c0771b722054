# tools/_common.sh -- helpers shared by tools/matrix.sh and tools/asan.sh.
#
# Sourced, not run.  Finds pyenv interpreters, keeps one venv per interpreter
# under .venvs/, rebuilds and installs the project into it, runs pytest.
# shellcheck shell=bash

HS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
HS_MINORS=(3.9 3.10 3.11 3.12 3.13 3.14 3.15)
# What every venv gets.  setuptools>=61 reads [project] from pyproject.toml
# (an older one, as bundled with 3.9's ensurepip, builds "UNKNOWN").
HS_DEPS=(pip "setuptools>=61" wheel build pytest hypothesis ipython
         # framework adapters, metaclass-built models and real servers, gunicorn
         # for forked workers (tests/test_frameworks.py, tests/test_servers.py);
         # pydantic-core and sqlalchemy ship no wheels for 3.15 yet
         attrs flask django uvicorn httpx gunicorn
         "pydantic; python_version < '3.15'" "fastapi; python_version < '3.15'"
         "sqlalchemy; python_version < '3.15'")

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

hs_say() { printf '%s\n' "$*"; }

# hs_show_build_log LOG: the compiler part of a pip -v build log (the whole
# log if the build did not get that far).
hs_show_build_log() {
    if grep -q 'running build_ext' "$1"; then
        sed -n '/running build_ext/,$p' "$1"
    else
        cat "$1"
    fi
}
hs_err() { printf 'error: %s\n' "$*" >&2; }

# hs_pyenv_root: print the pyenv root, or nothing.  Works without pyenv on
# PATH (CI, cron) as long as ~/.pyenv or $PYENV_ROOT exists.
hs_pyenv_root() {
    local root=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
    fi
    if [[ -z "$root" || ! -d "$root/versions" ]]; then
        if [[ -n "${PYENV_ROOT:-}" && -d "$PYENV_ROOT/versions" ]]; then
            root="$PYENV_ROOT"
        elif [[ -d "$HOME/.pyenv/versions" ]]; then
            root="$HOME/.pyenv"
        else
            root=""
        fi
    fi
    printf '%s' "$root"
}

# hs_find_python MINOR: print the python of the newest X.Y.Z under pyenv
# (only plain releases: not 3.13.0t, 3.12-dev, 3.12.0rc1), or fail.
hs_find_python() {
    local minor="$1" root dir best=""
    root="$(hs_pyenv_root)"
    [[ -n "$root" ]] || return 1
    best="$(
        for dir in "$root/versions/$minor".*; do
            [[ -d "$dir" ]] || continue
            dir="${dir##*/}"
            [[ "$dir" =~ ^${minor//./\\.}\.[0-9]+$ ]] && printf '%s\n' "$dir"
        done | sort -V | tail -n 1
    )"
    [[ -n "$best" && -x "$root/versions/$best/bin/python" ]] || return 1
    printf '%s' "$root/versions/$best/bin/python"
}

# hs_ensure_venv DIR PYTHON LOG: create DIR as a venv of PYTHON with HS_DEPS,
# or reuse it when its stamp says it was made from the same interpreter with
# the same deps (deps are not reinstalled then).  A venv whose setup was
# interrupted has no stamp and is made again.  pip's output goes to LOG.
hs_ensure_venv() {
    local dir="$1" py="$2" log="$3" stamp want
    stamp="$dir/.hotswap-venv"
    want="$("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])') ${HS_DEPS[*]}"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
        && "$dir/bin/python" -c '' >/dev/null 2>&1; then
        return 0
    fi
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    {
        "$py" -m venv "$dir" &&
        "$dir/bin/python" -m pip install --upgrade "${HS_DEPS[@]}"
    } >"$log" 2>&1 || return 1
    printf '%s\n' "$want" >"$stamp"
}

# hs_build_install VENV LOG: build the extension from scratch and install the
# project into VENV (not editable: tests import the installed copy, and no
# .so lands in src/).  setup.py's flags apply, -Werror included; the caller
# sets HOTSWAP_BUILD for debug/asan builds.  Build dirs live in VENV/build,
# wiped each time, so a changed flag or a removed file never leaves a stale
# object behind, and nothing is written into the work tree.
hs_build_install() {
    local venv="$1" log="$2" bdir="$1/build" cfg="$1/build.cfg"
    rm -rf "$bdir"
    mkdir -p "$bdir"
    printf '[build]\nbuild_base = %s\n[egg_info]\negg_base = %s\n' \
        "$bdir" "$bdir" >"$cfg"
    (
        cd "$HS_ROOT" &&
        DIST_EXTRA_CONFIG="$cfg" "$venv/bin/python" -m pip install -v \
            --no-build-isolation --no-deps --force-reinstall .
    ) >"$log" 2>&1 || return 1
    # The log must show our compile line: proof the C code was rebuilt with
    # setup.py's flags (and not, say, skipped as up to date).
    if ! grep -qE -- '-c csrc/[^ ]+\.c .*-Werror' "$log"; then
        printf 'build log has no compile of csrc/*.c with -Werror\n' >>"$log"
        return 1
    fi
    # Import from outside the tree: the installed copy, not src/.  An ASan
    # build only loads with the runtime preloaded.
    local pre=()
    if [[ "${HOTSWAP_BUILD:-}" == asan ]]; then
        pre=(env "LD_PRELOAD=$("${CC:-gcc}" -print-file-name=libasan.so)"
             ASAN_OPTIONS=detect_leaks=0)
    fi
    (cd / && "${pre[@]}" "$venv/bin/python" -c 'import hotswap._core') \
        >>"$log" 2>&1
}

# hs_pytest VENV LOG [ARGS...]: run the suite with VENV's python from the
# repo root, tee its output to LOG.  Returns pytest's status, except that 5
# (no tests collected) becomes 0 when HOTSWAP_ALLOW_NO_TESTS=1.
hs_pytest() {
    local venv="$1" log="$2" rc color=() where=(tests) a tmp
    shift 2
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/pytest-run.XXXXXX")" || return 1
    # arguments naming test files or directories replace the default
    for a in "$@"; do
        [[ "$a" == tests/* || "$a" == tests ]] && where=()
    done
    [[ -t 1 ]] && color=(--color=yes)
    # Each run has its own temporary root, outside the tree and the venv:
    # under the shared /tmp/pytest-of-$USER, a run's exit-time clean-up of
    # old directories races with another run's (two worktrees, or the
    # harnesses) and fails the session with an rm_rf warning after every
    # test passed.
    # pytest's status through the pipe to tee, whatever set -e/-o pipefail
    # the caller runs with.
    (
        cd "$HS_ROOT" &&
        "$venv/bin/python" -X dev -m pytest -q -p no:cacheprovider \
            --basetemp "$tmp" "${color[@]}" "${where[@]}" "$@" </dev/null
        echo "$?" >"$log.rc"
    ) 2>&1 | tee "$log" || true
    rc="$(cat "$log.rc" 2>/dev/null || echo 1)"
    rm -f "$log.rc"
    rm -rf "$tmp"
    if [[ "$rc" == 5 && "${HOTSWAP_ALLOW_NO_TESTS:-0}" == 1 ]]; then
        hs_say "(no tests collected: allowed by HOTSWAP_ALLOW_NO_TESTS=1)"
        rc=0
    fi
    return "$rc"
}

# hs_pytest_summary LOG: pytest's closing line ("3 passed, 1 skipped in
# 0.2s"), colours stripped.
hs_pytest_summary() {
    sed -e 's/\x1b\[[0-9;]*m//g' "$1" \
        | grep -E '(passed|failed|error|errors|skipped|xfailed|xpassed|deselected|no tests ran).* in [0-9.]+s' \
        | tail -n 1 | sed -e 's/^=* *//; s/ *=*$//'
}

# hs_count WORD SUMMARY: the number before WORD in a pytest summary, or 0.
hs_count() {
    local n
    n="$(grep -oE "[0-9]+ $1" <<<"$2" | head -n 1 | cut -d' ' -f1)"
    printf '%s' "${n:-0}"
}
