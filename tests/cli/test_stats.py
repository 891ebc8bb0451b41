"""fog stats: exact numbers for known shares, several remotes, read-only and unreachable remotes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fogcli import Share, open_local

from fog.format import pack as P
from fog.format.pack import header_size
from fog.repo.identity import Identity
from fog.store import Remote, ShareStore

# Z is below the smallest block (MIN_BLOCK): one block whatever the random bytes (20,000 bytes were cut in
# two now and then, at a boundary of the share's random chunking seed: a flaky KeyError)
X, Y, Z = b"x" * 5000 + b"\n", b"y-only in b\n", os.urandom(12000)


def _store(share: Share, remote: Path | None = None) -> ShareStore:
    ident = Identity.load(Path(os.environ["FOG_HOME"]))
    locator = share.packs()[0].parts[-4]
    return Remote(open_local(remote or share.remote)).share(ident.share_keys(locator))


def _lengths(share: Share) -> dict[str, int]:
    return {o.name: o.length for o in share.objects()}


def _remote(doc: dict[str, Any], name: str = "origin") -> dict[str, Any]:
    return next(r for r in doc["remotes"] if r["remote"] == name)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _small_files(share: Share) -> None:
    """a.txt: X then Z; b.txt: Y then deleted; c.txt: X (a block two paths share)."""
    share.write("a.txt", X)
    share.write("b.txt", Y)
    share.write("c.txt", X)
    share.push()
    share.write("a.txt", Z)
    (share.root / "b.txt").unlink()
    share.push()


def test_stats_counts_current_old_and_history_exactly(share: Share) -> None:
    _small_files(share)
    store = _store(share)
    n = _lengths(share)
    x, y, z = (n[store.object_id(d).hex()] for d in (X, Y, Z))
    before = _snapshot(share.remote)
    doc = share.fog("stats", "--json").json()
    assert _snapshot(share.remote) == before  # read-only: nothing written, nothing touched
    assert (doc["versions"], doc["paths"], doc["live_paths"], doc["deleted_paths"]) == (5, 3, 2, 1)
    assert doc["current_logical_bytes"] == len(Z) + len(X)
    assert doc["logical_bytes"] == 2 * len(X) + len(Y) + len(Z)
    assert doc["unique_bytes"] == len(X) + len(Y) + len(Z)
    assert doc["dedupe_ratio"] == round(doc["logical_bytes"] / doc["unique_bytes"], 3)
    assert doc["failed"] == {} and doc["unreadable"] == []
    r = _remote(doc)
    packs = share.packs()
    assert r["packs"] == len(packs) == 2
    assert r["stored_bytes"] == r["pack_bytes"] == sum(p.stat().st_size for p in packs)
    assert (r["loose_objects"], r["loose_bytes"], r["objects"], r["missing_objects"]) == (0, 0, 3, 0)
    assert r["current_bytes"] == x + z  # X counted once, though a.txt@~1 and c.txt both use it
    assert r["old_bytes"] == y  # b.txt's only version with content is old: the path is deleted
    assert (r["unreferenced_bytes"], r["unreferenced_packs"], r["unreferenced_objects"]) == (0, 0, 0)
    assert r["overhead_bytes"] == header_size(2) + header_size(1)
    assert r["stored_bytes"] == r["current_bytes"] + r["old_bytes"] + r["unreferenced_bytes"] + r["overhead_bytes"]
    assert r["compression_ratio"] == round((len(X) + len(Y) + len(Z)) / (x + y + z), 3)
    assert r["largest"] == [
        {"path": "a.txt", "versions": 2, "bytes": x + z},
        {"path": "c.txt", "versions": 1, "bytes": x},
        {"path": "b.txt", "versions": 2, "bytes": y},
    ]
    text = share.fog("stats").out
    assert "5 versions of 3 paths (2 live, 1 deleted)" in text and "remote origin" in text
    assert "largest histories" in text and "a.txt" in text


def test_stats_two_versions_of_a_large_file_share_blocks(share: Share) -> None:
    data = os.urandom(600_000)
    share.write("big", data)
    share.push()
    share.write("big", data + b"tail")
    share.push()
    objects = share.objects()
    r = _remote(share.fog("stats", "--json").json())
    everything = sum(o.length for o in objects)
    assert r["current_bytes"] + r["old_bytes"] == everything  # every object belongs to big, each counted once
    assert 0 < r["old_bytes"] < everything / 2  # the first version's tail and nodes only: blocks are shared
    assert r["largest"] == [{"path": "big", "versions": 2, "bytes": everything}]
    assert r["unreferenced_bytes"] == 0


def _orphans(share: Share) -> tuple[int, int]:
    """Put a pack no version references and a pack holding one referenced and one new object.

    Returns (orphan pack's size, stored length of the new object)."""
    store = _store(share)
    extra = b"no version names me\n"
    oid, old = store.object_id(extra), store.object_id(X)
    data, index = P.build(store.keys.pack_key, [(oid, store.encode(oid, extra))])
    store.put_pack(data, index)
    other = b"nor me\n"
    oth = store.object_id(other)
    mixed, mixed_index = P.build(store.keys.pack_key, [(old, store.encode(old, X)), (oth, store.encode(oth, other))])
    store.put_pack(mixed, mixed_index)
    return len(data), len(store.encode(oth, other))


def test_unreferenced_packs_and_objects_in_stats_and_check(share: Share) -> None:
    _small_files(share)
    base = _remote(share.fog("stats", "--json").json())
    orphan, loose_in_mixed = _orphans(share)
    r = _remote(share.fog("stats", "--json").json())
    assert r["packs"] == base["packs"] + 2
    assert r["unreferenced_packs"] == 1 and r["unreferenced_objects"] == 2
    assert r["unreferenced_bytes"] == orphan + loose_in_mixed
    x = _lengths(share)[_store(share).object_id(X).hex()]
    assert r["current_bytes"] == base["current_bytes"] + x  # a second stored copy of X counts: it takes bytes
    assert r["stored_bytes"] == r["current_bytes"] + r["old_bytes"] + r["unreferenced_bytes"] + r["overhead_bytes"]
    assert r["objects"] == base["objects"] + 2
    check = share.fog("check", "--json").json()
    assert check["ok"]
    assert (check["unreferenced_packs"], check["unreferenced_objects"], check["unreferenced_bytes"]) == (
        1,
        2,
        orphan + loose_in_mixed,
    )
    err = share.fog("check").err
    assert f"({orphan + loose_in_mixed} bytes: 2 object(s), 1 whole pack(s)) referenced by no version" in err


def test_stats_orphan_pack_of_a_killed_push(share: Share) -> None:
    """A push stopped after its pack was put, before its batch: that pack is unreferenced."""
    share.write("a.txt", X)
    share.push()
    store = _store(share)
    data, index = P.build(store.keys.pack_key, [(store.object_id(Y), store.encode(store.object_id(Y), Y))])
    store.put_pack(data, index)  # what a push killed between its pack and its batch leaves
    r = _remote(share.fog("stats", "--json").json())
    assert (r["unreferenced_packs"], r["unreferenced_bytes"]) == (1, len(data))


def test_two_remotes_one_lacking_a_pack_and_one_unreachable(share: Share) -> None:
    share.write("a.txt", X)
    share.push()
    second = share.tmp / "second"
    share.fog("remote", "add", "second", second)
    share.push()  # seeds second with the history
    share.write("z.txt", Z)
    share.push("origin")  # second lacks this pack
    doc = share.fog("stats", "--json").json()
    origin, other = _remote(doc), _remote(doc, "second")
    z = _lengths(share)[_store(share).object_id(Z).hex()]
    assert origin["missing_objects"] == 0 and other["missing_objects"] == 1
    assert origin["current_bytes"] == other["current_bytes"] + z
    assert other["stored_bytes"] == sum(p.stat().st_size for p in second.glob("shares/*/packs/*/*"))
    assert [p["path"] for p in other["largest"]] == ["a.txt"]
    one = share.fog("stats", "second", "--json").json()
    assert [r["remote"] for r in one["remotes"]] == ["second"]

    second.rename(share.tmp / "unmounted")
    r = share.fog("stats", expect=1)
    line = r.one_line_error()
    assert "second" in line and "does not exist" in line
    assert "remote origin" in r.out and "remote second" not in r.out
    r = share.fog("stats", "--json", expect=1)
    assert [x["remote"] for x in r.json()["remotes"]] == ["origin"] and "second" in r.json()["failed"]
    assert '"kind": "remote"' in r.one_line_error()


def test_stats_not_on_a_terminal_prints_whole_paths_without_padding(share: Share) -> None:
    """Review 6, cli C4: `fog stats > report` cut long paths with "…" at 80 columns (COLUMNS narrower) and
    padded every row with spaces."""
    long = "very/long/directory/name/for/testing/the/stats/output/some-file-with-a-long-name.txt"
    share.write(long, "x\n")
    share.write("a.txt", "hello\n")
    share.push()
    for columns in ("80", "20"):
        os.environ["COLUMNS"] = columns
        try:
            out = share.fog("stats").out
        finally:
            del os.environ["COLUMNS"]
        assert long in out and "…" not in out, out
        assert all(line == line.rstrip(" ") for line in out.splitlines()), out


def test_stats_not_on_a_terminal_keeps_a_names_trailing_spaces(share: Share) -> None:
    """review 7 diff F8: trimming rich's padding also cut the trailing spaces of a path ("report " printed
    as "report", another file's name); the largest histories are now written whole, still unpadded."""
    for n in range(3):
        share.write("report ", f"{n}\n" * 50)
        share.push()
    share.write("b", "b\n")
    share.push()
    lines = share.fog("stats").out.splitlines()
    at = lines.index("largest histories")
    assert lines[at + 1].split() == ["bytes", "versions", "path"], lines
    assert lines[at + 2].endswith("  report "), lines
    assert lines[at + 3].endswith("  b"), lines
    assert all(line == line.rstrip(" ") for line in lines if not line.endswith("report ")), lines
