#!/usr/bin/env bash
# Install fog into the checkout's .venv, then run a real round trip against a
# local-directory remote: init, push, edit, push, log, restore ~1, check.
#
# Everything happens in a temporary directory (share, remote and FOG_HOME, so
# your real fog identity is never touched) that is removed at the end.
# PYTHON=python3.12 ./scripts/quickstart.sh picks the interpreter for a new .venv.
set -euo pipefail

# shellcheck source=scripts/_venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
ensure_venv ""  # fog itself, no extras

# A clean fog environment: no FOG_* from the caller, a throwaway FOG_HOME.
while read -r var; do unset "$var"; done < <(compgen -e | grep '^FOG_' || true)
work="$(mktemp -d "${TMPDIR:-/tmp}/fog-quickstart.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export FOG_HOME="$work/home"
export PATH="$FOG_VENV/bin:$PATH"

bold="" plain=""
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() {  # show a command, then run it (its messages on stderr in line with its output)
    printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"
    "$@" 2>&1
}
fail() {
    echo "quickstart FAILED: $*" >&2
    exit 1
}

cd "$work"
echo "==> working in $work (FOG_HOME=$FOG_HOME)"
step fog --version
step fog init notes --remote "$work/remote" --master-key-file "$work/master-key.txt"

cd notes
printf 'first draft\n' >todo.txt
mkdir -p recipes
printf 'flour, water, salt\n' >recipes/bröd.txt
head -c 300000 /dev/urandom >photo.bin
step fog status
step fog push

printf 'second draft: buy milk\n' >todo.txt
step fog status
step fog push
step fog log todo.txt

step fog restore todo.txt@~1
step cat todo.txt
[[ "$(cat todo.txt)" == "first draft" ]] || fail "restore of todo.txt@~1 did not give the first version back"
step fog status          # the restored file is a change, to push when you want to keep it

step fog check --read-data

# The remote holds ciphertext only: no file names, no contents.
if grep -rqa -e 'draft' -e 'todo' -e 'recipes' -e 'flour' "$work/remote"; then
    fail "plaintext found on the remote"
fi
echo
echo "==> remote: $(find "$work/remote" -type f | wc -l) opaque files, no plaintext names or contents"
echo "==> quickstart OK (temporary files in $work are removed now)"
