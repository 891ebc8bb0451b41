"""`.fog/` format 2 (binary version records) reads and upgrades a format-1 share in place."""

from __future__ import annotations

import json
import os
from pathlib import Path

from fogcli import Share

from fog import api
from fog.format.version import Version
from fog.repo import history


def _records(root: Path) -> dict[bytes, bytes]:
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin() as txn:
            return dict(txn.cursor(env.open_db(b"versions", txn=txn, create=False)))
    finally:
        env.close()


def _as_format_1(root: Path) -> None:
    """Rewrite the share as a format-1 fog left it: every version as its JSON, config format 1."""
    env = history.open_env(str(root / ".fog" / "db"))
    try:
        with env.begin(write=True) as txn:
            db = env.open_db(b"versions", txn=txn, create=False)
            for vid, raw in list(txn.cursor(db)):
                txn.put(vid, Version.from_record(vid, raw).to_bytes(), db=db)
    finally:
        env.close()
    config = root / ".fog" / "config.json"
    doc = json.loads(config.read_text())
    doc["format"] = 1
    config.write_text(json.dumps(doc))


def _format(root: Path) -> int:
    return json.loads((root / ".fog" / "config.json").read_text())["format"]


def test_new_shares_store_binary_records(share: Share) -> None:
    share.write("a.txt", "one\n")
    os.symlink("a.txt", share.root / "link")
    share.push()
    assert _format(share.root) == history.REPO_FORMAT == 2
    records = _records(share.root)
    assert len(records) == 2
    assert all(raw[0] == 0x02 for raw in records.values())


def test_a_format_1_share_is_read_then_upgraded_in_place(share: Share) -> None:
    share.write("a.txt", "one\n")
    share.write("dir/b.txt", "two\n")
    share.push()
    share.write("a.txt", "one, then two\n")
    share.push()
    before = share.log("a.txt")
    _as_format_1(share.root)
    old = _records(share.root)
    assert all(raw.startswith(b"{") for raw in old.values())

    # read as it is: `fog log` (both readers) and fog.api see the same history
    assert share.log("a.txt") == before
    assert share.fog("log", "--json", "a.txt", sub=True).json() == before
    home, root = os.environ["FOG_HOME"], str(share.root)
    quick = history.quick_log(home, root, "a.txt", None)
    assert quick is not None and [e.version.id for e in quick] == [
        e.version.id for e in api.log(Path(home), share.root, "a.txt")
    ]

    # the next command that locks the share marks it format 2; old records stay JSON, new ones are binary
    share.write("a.txt", "three\n")
    share.push()
    assert _format(share.root) == 2
    after = _records(share.root)
    assert {vid: after[vid] for vid in old} == old
    new = [raw for vid, raw in after.items() if vid not in old]
    assert new and all(raw[0] == 0x02 for raw in new)
    log = share.log("a.txt")
    assert len(log) == 3 and [e["version"] for e in log[1:]] == [e["version"] for e in before]
    assert share.fog("log", "--json", "a.txt", sub=True).json() == log


def test_a_newer_format_is_refused_in_one_line(share: Share) -> None:
    config = share.root / ".fog" / "config.json"
    doc = json.loads(config.read_text())
    doc["format"] = 3
    config.write_text(json.dumps(doc))
    r = share.fog("status", expect=None)
    assert r.rc == 1 and "unsupported repository format 3" in r.one_line_error()
    assert json.loads(config.read_text())["format"] == 3  # left as it was
