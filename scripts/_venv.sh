# shellcheck shell=bash
# Sourced by scripts/quickstart.sh and scripts/test.sh: make sure the checkout's
# .venv exists and holds an editable install of fog (with the given extras).
#
#   ensure_venv            # fog and its dependencies
#   ensure_venv test       # plus the test tools (pytest, hypothesis, ruff)
#
# Idempotent: pip only runs when the venv is new, pyproject.toml changed, or
# the extras asked for were never installed. PYTHON picks the interpreter used
# to create the venv (default: python3; must be >= 3.11).

FOG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FOG_VENV="$FOG_ROOT/.venv"
PYTHON="${PYTHON:-python3}"

_fog_die() {
    echo "error: $*" >&2
    exit 1
}

_fog_pyver() {  # major.minor of an interpreter, or nothing if it does not run
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

ensure_venv() {
    local extras="${1:-}"
    command -v "$PYTHON" >/dev/null 2>&1 || _fog_die "$PYTHON not found (set PYTHON=/path/to/python3.11+)"
    local want
    want="$(_fog_pyver "$PYTHON")"
    [[ -n "$want" ]] || _fog_die "$PYTHON does not run"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || _fog_die "fog needs Python >= 3.11; $PYTHON is $want (set PYTHON=...)"

    local have=""
    [[ -x "$FOG_VENV/bin/python" ]] && have="$(_fog_pyver "$FOG_VENV/bin/python")"
    if [[ -n "$have" && "$have" != "$want" ]]; then
        echo "==> .venv has Python $have, $PYTHON is $want: recreating .venv" >&2
        rm -rf "$FOG_VENV"
        have=""
    fi
    if [[ -z "$have" ]]; then
        echo "==> creating .venv with $PYTHON ($want)" >&2
        rm -rf "$FOG_VENV"
        "$PYTHON" -m venv "$FOG_VENV" \
            || _fog_die "could not create a venv (on Debian: apt-get install python3-venv)"
    fi

    # What the install depends on: the project metadata and the interpreter.
    local stamp
    stamp="$( { cat "$FOG_ROOT/pyproject.toml"; "$FOG_VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
    local mark="$FOG_VENV/.fog-installed${extras:+-$extras}"
    local test_mark="$FOG_VENV/.fog-installed-test"  # the test extras include the base install
    if [[ "$(cat "$mark" 2>/dev/null)" == "$stamp" || "$(cat "$test_mark" 2>/dev/null)" == "$stamp" ]] \
        && "$FOG_VENV/bin/python" -c 'import fog' 2>/dev/null; then
        return 0
    fi
    local target="."
    [[ -n "$extras" ]] && target=".[$extras]"
    echo "==> installing fog into .venv: pip install -e '$target'" >&2
    (cd "$FOG_ROOT" && "$FOG_VENV/bin/python" -m pip install --quiet -e "$target") \
        || _fog_die "pip install -e '$target' failed"
    echo "$stamp" >"$mark"
}
