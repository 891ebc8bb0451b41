"""A remote written by fog before packs (format 1, one file per object) stays usable.

tests/fixtures/format1/ was made by fog at commit af21533 (the last format-1
writer): `fog init` + two pushes of docs/a.txt ("hello format one\n", then
"second version\n"), big.bin (150 KiB of random.Random(1).randbytes) and the
symlink link -> docs/a.txt. master.key is that user's master key.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest
from fogcli import run_fog

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "format1"
BIG = random.Random(1).randbytes(150 * 1024)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    dest = tmp_path / "remote"
    shutil.copytree(FIXTURE / "remote", dest)
    return dest


def _clone(tmp_path: Path, remote: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FOG_HOME", str(tmp_path / f"home-{name}"))
    root = tmp_path / name
    run_fog(["clone", remote, root, "--master-key-file", FIXTURE / "master.key"], tmp_path)
    return root


def test_format_1_remote_is_cloned_checked_and_upgraded(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loose = sorted(p.name for p in remote.glob("shares/*/objects/*/*"))
    assert loose and not list(remote.glob("shares/*/packs/*/*"))
    assert (remote / "fog-store").read_bytes() == b"fog-store 1\n"

    root = _clone(tmp_path, remote, "one", monkeypatch)
    assert (root / "docs/a.txt").read_bytes() == b"second version\n"
    assert (root / "big.bin").read_bytes() == BIG
    assert os.readlink(root / "link") == "docs/a.txt"
    assert [v["size"] for v in run_fog(["log", "--json", "docs/a.txt"], root).json()] == [15, 17]
    out = tmp_path / "old.txt"
    run_fog(["restore", "docs/a.txt@~1", "-o", out], root)
    assert out.read_bytes() == b"hello format one\n"
    run_fog(["check", "--read-data"], root)

    # The first push marks the store as format 4 (packs, signed batches) and writes a pack, never a loose object.
    (root / "docs/b.txt").write_bytes(b"written in a pack\n")
    (root / "big.bin").write_bytes(BIG + b"appended")
    run_fog(["push"], root)
    assert (remote / "fog-store").read_bytes() == b"fog-store 4\n"
    assert sorted(p.name for p in remote.glob("shares/*/objects/*/*")) == loose
    assert list(remote.glob("shares/*/packs/*/*"))
    doc = run_fog(["check", "--read-data", "--json"], root).json()
    assert doc["ok"] and doc["objects_read"] > len(loose)

    # A device cloning the mixed store reads both kinds.
    two = _clone(tmp_path, remote, "two", monkeypatch)
    assert (two / "docs/b.txt").read_bytes() == b"written in a pack\n"
    assert (two / "big.bin").read_bytes() == BIG + b"appended"
    out2 = tmp_path / "old2.txt"
    run_fog(["restore", "docs/a.txt@~1", "-o", out2], two)
    assert out2.read_bytes() == b"hello format one\n"


def test_remotes_an_older_fog_kept_locally_reach_the_syncconfig(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share whose remotes only its .fog/config.json lists (fog before remotes lived in the
    SyncConfig): the first pull publishes them, and another device learns them."""
    one = _clone(tmp_path, remote, "one", monkeypatch)
    usb = tmp_path / "usb"
    shutil.copytree(remote, usb)  # a second copy, added by the older fog: known to `one` only
    cfg_path = one / ".fog" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["remotes"]["usb"] = str(usb)
    cfg_path.write_text(json.dumps(cfg))
    run_fog(["pull"], one)
    two = _clone(tmp_path, remote, "two", monkeypatch)
    names = {r["name"]: r["url"] for r in run_fog(["remote", "list", "--json"], two).json()}
    assert names == {"origin": str(remote), "usb": str(usb)}
