"""An unchanged file is never opened (issue 2, "Must hold" 6: 20,000 files, 2 touched)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from fogcli import Share, run_fog, wrapper_script

N_FILES = 20_000
PER_DIR = 500

# Records every path under the share (outside .fog/) that fog opens, by any of
# the Python-level entry points, and writes the list to OUT at exit.
RECORD_OPENS = """
import atexit, builtins, io, json, os
ROOT, OUT = {root!r}, {out!r}
opened = []

def _note(path):
    if isinstance(path, int):
        return
    p = os.path.abspath(os.fsdecode(os.fspath(path)))
    if p.startswith(ROOT + os.sep) and not p.startswith(os.path.join(ROOT, ".fog") + os.sep):
        if not os.path.isdir(p):
            opened.append(os.path.relpath(p, ROOT))

_real_open = io.open


def _wrap(fn):
    def opener(path, *args, **kwargs):
        if kwargs.get("dir_fd") is None:  # (relative to a directory descriptor: a remote's object)
            _note(path)
        return fn(path, *args, **kwargs)
    return opener

os.open = _wrap(os.open)
builtins.open = io.open = _wrap(io.open)

@atexit.register
def _dump():
    with _real_open(OUT, "w") as f:
        f.write(json.dumps(sorted(opened)))
"""


def _make_share_files(root: Path) -> list[str]:
    hour_ago = time.time() - 3600
    rels = []
    for i in range(N_FILES):
        d = root / f"d{i // PER_DIR:03d}"
        if i % PER_DIR == 0:
            d.mkdir()
        p = d / f"f{i:05d}.txt"
        p.write_bytes(b"%d\n" % (i % 100))  # few distinct blocks: the test is about opens
        os.utime(p, (hour_ago, hour_ago))  # older than the racy window
        rels.append(p.relative_to(root).as_posix())
    return rels


def _push(share: Share, label: str) -> tuple[dict, list[str], list[str] | None]:
    """Push; return its JSON, the share files it opened as Python saw it, and as the kernel saw it.

    The kernel's view needs strace (used when installed); Python's view is always taken.
    """
    out, trace = share.tmp / f"opens-{label}.json", share.tmp / f"strace-{label}.txt"
    code = RECORD_OPENS.format(root=str(share.root), out=str(out))
    strace = shutil.which("strace") if sys.platform.startswith("linux") else None
    prefix = [sys.executable, "-c", wrapper_script(code)]
    if strace:
        prefix = [strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace), *prefix]
    r = run_fog(["push", "--json"], share.root, prefix=prefix, timeout=300)
    doc, py_opened = r.json(), json.loads(out.read_text())
    if not strace:
        return doc, py_opened, None
    prefix_dir = str(share.root) + "/"
    kernel = []
    for line in trace.read_text(errors="replace").splitlines():
        m = re.search(r'open(?:at2?)?\((?:AT_FDCWD, |\d+, )?"([^"]*)"', line)
        if not m or "O_DIRECTORY" in line:
            continue
        path = m.group(1)
        if path.startswith(prefix_dir) and not path.startswith(prefix_dir + ".fog/"):
            kernel.append(path[len(prefix_dir) :])
    return doc, py_opened, sorted(kernel)


def test_unchanged_files_are_never_opened(share: Share) -> None:
    rels = _make_share_files(share.root)
    t0 = time.monotonic()
    first = share.push()
    t_first = time.monotonic() - t0
    assert first["files_read"] == N_FILES
    assert len(first["added"]) == N_FILES + N_FILES // PER_DIR

    t0 = time.monotonic()
    doc, py_opened, kernel_opened = _push(share, "unchanged")
    t_nochange = time.monotonic() - t0
    assert doc["files_read"] == 0 and doc["bytes_read"] == 0
    assert doc["added"] == doc["modified"] == doc["deleted"] == []
    assert py_opened == []
    assert kernel_opened in (None, [])

    touched = [rels[7], rels[N_FILES - 3]]
    for rel in touched:
        p = share.root / rel
        p.write_bytes(p.read_bytes() + b"changed\n")
    doc, py_opened, kernel_opened = _push(share, "touched")
    assert doc["files_read"] == 2
    assert sorted(doc["modified"]) == sorted(touched)
    assert sorted(set(py_opened)) == sorted(touched)
    assert kernel_opened is None or sorted(set(kernel_opened)) == sorted(touched)
    print(
        f"\n{N_FILES} files: first push {t_first:.1f}s, push with nothing changed {t_nochange:.2f}s "
        f"(a fresh interpreter{' under strace' if kernel_opened is not None else ''})"
    )
