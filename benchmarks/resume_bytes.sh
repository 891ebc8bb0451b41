#!/usr/bin/env bash
# Bytes a push re-uploads after an interrupted push (issue 14).
#
#   benchmarks/resume_bytes.sh [SIZE_MIB] [FOG_SOURCE_DIR]
#
# Writes SIZE_MIB (default 1024) of random data, starts `fog push` to a
# local-directory remote, kills it with SIGKILL once half the file reached the
# remote, then runs the push again and prints what the killed push had put,
# what the second push uploaded, and `fog check --read-data`. FOG_SOURCE_DIR
# (a checkout of another commit) measures that code instead, with this
# checkout's .venv.
set -u
size=${1:-1024}
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src=${2:-$root}
py="$root/.venv/bin/python"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir "$d/s"
head -c $((size << 20)) /dev/urandom > "$d/s/big.bin"
touch -d 2020-01-01 "$d/s/big.bin"
export FOG_HOME="$d/home"
cd "$src"  # python -m fog imports fog from here
"$py" -m fog init "$d/s" --remote "$d/rem" --master-key-file "$d/mk" >/dev/null 2>&1
"$py" -m fog -C "$d/s" push -q &
pid=$!
half=$((size << 19))
while kill -0 "$pid" 2>/dev/null; do
  [ "$(du -sb "$d/rem" | cut -f1)" -ge "$half" ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
sent=$(du -sb "$d/rem" | cut -f1)
up=$("$py" -m fog -C "$d/s" push --json | "$py" -c 'import json, sys; print(json.load(sys.stdin)["bytes_uploaded"])')
total=$(du -sb "$d/rem" | cut -f1)
echo "killed push had put $sent bytes; the next push uploaded $up bytes; the remote holds $total bytes"
"$py" -m fog -C "$d/s" check --read-data 2>&1 | tail -1
