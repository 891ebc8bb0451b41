"""One remote among several whose data is refused, a remote just added, two names for one store.

Refused data on one remote (exit 4) drops that remote for the command: the
others are still pulled from and published on (review 4, remotes F10, F3).
A push naming one remote reads the share's other remotes to catch it up (F2).
`remote set-url` refuses the store of another remote (F6).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, make_pair, run_fog


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _with_usb(world: World) -> tuple[Device, Device, Path]:
    """laptop and desktop share origin; laptop added usb and pushed there; desktop learnt it."""
    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.pull()
    assert [r["name"] for r in b.fog("remote", "list", "--json").json()] == ["origin", "usb"]
    return a, b, usb


def _refused_line(run: str, name: str) -> str:
    lines = [line for line in run.splitlines() if line.startswith(f"fog: remote {name} refused")]
    assert len(lines) == 1, run
    return lines[0]


def test_junk_settings_on_one_remote_do_not_stop_the_others(world: World) -> None:
    a, b, usb = _with_usb(world)
    locator = next((usb / "config").iterdir())
    (locator / ("0" * 63 + "7")).write_bytes(b"junk\n")  # one settings version that does not verify
    b.write("from-b.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    r = b.fog("sync", expect=4)
    assert "HMAC does not match" in _refused_line(r.err, "usb"), str(r)
    assert "origin batch" in r.out, str(r)  # the push half ran, on origin
    r = a.pull(expect=4)
    assert a.read("from-b.txt") == "b\n"
    a.write("doc.txt", "edited on a\n", mtime_ns=OLD_MTIME_NS)
    r = a.fog("push", "--json", expect=4)
    assert list(r.json()["batches"]) == ["origin"], str(r)
    refused = [json.loads(line) for line in r.err.splitlines()]
    assert refused == [{"code": 4, "kind": "integrity", "remote": "usb", "message": refused[0]["message"]}]
    b.pull(expect=4)
    assert b.read("doc.txt") == "edited on a\n"
    r = a.fog("push", "usb", expect=4)  # naming the refused remote alone: exit 4 with the reason
    assert "HMAC does not match" in r.err
    a.fog("push", "origin")
    a.fog("remote", "remove", "usb")  # the way out: the revocation check before it reads past the junk
    a.fog("sync")


def test_a_remote_restored_from_an_old_copy_does_not_stop_the_others(world: World) -> None:
    a, b, usb = _with_usb(world)
    shutil.copytree(usb, world.tmp / "usb.old")
    for n in (1, 2):
        a.write("doc.txt", f"edit {n}\n", mtime_ns=OLD_MTIME_NS + n)
        a.fog("push")
    shutil.rmtree(usb)
    (world.tmp / "usb.old").rename(usb)  # a NAS snapshot rolled back: this device's log there ends early
    a.write("doc.txt", "edit 3\n", mtime_ns=OLD_MTIME_NS + 3)
    for command in ("push", "sync"):
        r = a.fog(command, expect=4)
        line = _refused_line(r.err, "usb")
        assert "rolled back" in line and "`fog remote renew usb`" in line, line
    b.pull()
    assert b.read("doc.txt") == "edit 3\n"  # origin got it
    before = world.log_files()
    r = a.fog("forget", "--keep-last", "1", "doc.txt", expect=4)  # forget too: published on origin
    assert "rolled back" in _refused_line(r.err, "usb") and len(world.log_files()) == len(before) + 1
    a.fog("push", "origin")
    listed = {i["name"]: i for i in a.fog("remote", "list", "--json").json()}
    assert "rolled back" in listed["usb"]["refused"] and not listed["origin"]["refused"]
    assert "up to date" not in a.fog("remote", "list").out.splitlines()[1]
    # the way out the message gives: the remote is seeded again on top of what it kept
    a.fog("remote", "remove", "usb")
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    assert [i["refused"] for i in a.fog("remote", "list", "--json").json()] == ["", ""]
    a.fog("check", "usb", "--read-data")
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("doc.txt") == "edit 3\n"


def test_push_to_a_remote_just_added_copies_from_the_others(world: World) -> None:
    a, _ = make_pair(world)
    a.write("doc.txt", "not pushed yet\n", mtime_ns=OLD_MTIME_NS)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    r = a.fog("push", "usb")  # origin holds the history: read from, not written to
    assert "usb batch 1" in r.out, str(r)
    pending = {i["name"]: i["pending"] for i in a.fog("remote", "list", "--json").json()}
    assert pending["usb"] == 0 and pending["origin"] == 1
    a.fog("check", "usb", "--read-data")
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.tree() == a.tree()


@pytest.mark.parametrize("local", [False, True])
def test_set_url_refuses_the_store_of_another_remote(world: World, local: bool) -> None:
    a, _, usb = _with_usb(world)
    for url in (str(world.remote), f"file://{world.remote}/"):
        r = a.fog("remote", "set-url", "usb", url, *(["--local"] if local else []), expect=1)
        assert "is already a remote of this share (origin)" in r.error_line(), str(r)
    assert {i["name"]: i["url"] for i in a.fog("remote", "list", "--json").json()}["usb"] == str(usb)
    a.fog("remote", "set-url", "usb", str(usb))  # its own URL again: fine


def test_settings_changes_go_on_past_a_remote_whose_settings_are_refused(world: World) -> None:
    """`policy set`, `device rename` and `device revoke` stopped at exit 4 before changing anything when one
    remote held settings that do not verify (revoking a stolen laptop must not wait for a junk file): each
    now publishes on the remotes that verify, names the refused one, and exits 4."""
    a, b, usb = _with_usb(world)
    locator = next((usb / "config").iterdir())
    (locator / ("0" * 63 + "7")).write_bytes(b"junk\n")
    r = a.fog("policy", "set", "--keep-last", "3", expect=4)
    assert "HMAC does not match" in _refused_line(r.err, "usb"), str(r)
    b.pull(expect=4)
    assert "3" in json.dumps(b.fog("policy", "show", "--json").json())
    a.fog("device", "rename", "desktop", "tower")  # (on the default remote, origin)
    r = a.fog("device", "revoke", "tower", expect=4)
    assert "remote usb not updated" in r.err and "HMAC does not match" in r.err, str(r)
    assert "revoked tower" in r.out, str(r)
    b.fog("pull", expect=6)


def _newest_pack(remote: Path) -> Path:
    return max(remote.glob("shares/*/packs/*/*"), key=lambda p: p.stat().st_mtime_ns)


def test_a_pack_swapped_on_one_remote_does_not_hide_its_objects_on_another(world: World) -> None:
    """Review 6 remotes R4: origin serves pack B's bytes under pack A's name. A device that learnt A's
    header from origin (the other pack's index) had one.txt's object in no known place, and its pull
    from the intact second remote said "missing from remote usb" for ever (check --repair too): a pack
    id hashes the whole pack, so a header alone cannot be checked against its name. The reader now reads
    that remote's headers again before calling an object missing, and takes one that differs from the
    catalog's when that copy's bytes match its name."""
    a, b, usb = _with_usb(world)
    a.write("one.txt", "one\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    one = _newest_pack(world.remote)
    time.sleep(0.01)
    a.write("two.txt", "two\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    two = _newest_pack(world.remote)
    assert one.name != two.name and (usb / one.relative_to(world.remote)).is_file()
    shutil.copyfile(two, one)  # origin: pack one now holds two's bytes
    c = world.clone("third", expect=4)  # origin lacks one.txt's object: refused there (exit 4)
    assert c.read("one.txt") == "one\n"  # (the clone read usb too, in the same run: review 6 remotes R8)
    c.fog("remote", "skip", "origin")
    r = c.pull()
    assert c.read("one.txt") == "one\n" and c.read("two.txt") == "two\n", str(r)
    assert "missing" not in r.err, str(r)
    r = c.fog("cat", "one.txt")  # another process: the corrected catalog was kept
    assert r.out == "one\n", str(r)
    c.fog("remote", "unskip", "origin")
    r = c.fog("check", "origin", "--read-data", expect=4)  # origin's pack one is refused there, by name
    assert f"pack {one.name[:16]}: bytes do not match its name" in r.err, str(r)
    c.fog("remote", "skip", "origin")  # origin's header under pack one's name replaced nothing
    assert c.fog("cat", "one.txt").out == "one\n"


def test_a_remote_added_again_after_a_rollback_is_accepted_by_every_device(world: World) -> None:
    """Review 6 remotes R5: fog's advice for a rolled-back remote (`remote remove` + `remote add`, same URL)
    cleared only the device that ran it; the others refused the remote at every run (exit 4) while their
    `remote list` said "reachable". The add gives the remote a new instance id in the SyncConfig: a device
    that sees it drops what it remembers of the old store."""
    a, b, usb = _with_usb(world)
    shutil.copytree(usb, world.tmp / "usb.old")
    a.write("doc.txt", "edit 1\n", mtime_ns=OLD_MTIME_NS + 1)
    a.fog("push")
    b.pull()
    shutil.rmtree(usb)
    (world.tmp / "usb.old").rename(usb)  # restored from an older copy
    r = b.fog("sync", expect=4)
    assert "rolled back" in r.err and "`fog remote renew usb`" in r.err, str(r)
    listed = {i["name"]: i for i in b.fog("remote", "list", "--json").json()}
    assert "rolled back" in listed["usb"]["refused"], listed
    assert "`fog remote renew usb`" in listed["usb"]["refused"], listed
    assert not listed["origin"]["refused"]
    assert "REFUSED" in b.fog("remote", "list").out
    a.fog("remote", "remove", "usb")
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.write("from-b.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    r = b.fog("push")  # a push alone follows the re-add too (it reconciles nothing)
    assert "refused" not in r.err and "usb batch" in r.out, str(r)
    for _ in range(2):
        r = b.fog("sync")
        assert "refused" not in r.err, str(r)
    assert [i["refused"] for i in b.fog("remote", "list", "--json").json()] == ["", ""]
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("doc.txt") == "edit 1\n" and c.read("from-b.txt") == "b\n"


def test_settings_gone_from_a_rolled_back_remote_are_accepted_once_it_is_added_again(world: World) -> None:
    """As above, where the other device's refusal is the SyncConfig versions it saw there being gone (its
    `remote list` said "reachable", and its message gave no way out)."""
    a = world.init("laptop")
    a.write("a.txt", "one\n", mtime_ns=OLD_MTIME_NS)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b = world.clone("desktop")
    shutil.copytree(usb, world.tmp / "usb.old")
    a.write("a.txt", "two\n", mtime_ns=OLD_MTIME_NS + 1)
    a.fog("push")
    b.pull()
    shutil.rmtree(usb)
    (world.tmp / "usb.old").rename(usb)
    r = b.fog("sync", expect=4)
    # (b's clone read usb's logs too, in the same run: the refusal may name a log's batches as well)
    assert "`fog remote renew usb`" in r.err and ("seen before are gone" in r.err or "rolled back" in r.err), r.err
    listed = {i["name"]: i for i in b.fog("remote", "list", "--json").json()}
    refused = listed["usb"]["refused"]
    assert ("seen before are gone" in refused or "rolled back" in refused) and "`fog remote renew usb`" in refused
    a.fog("remote", "renew", "usb")  # (what remove + add of the same URL do)
    a.fog("push")
    b.fog("sync")
    b.fog("sync")
    assert [i["refused"] for i in b.fog("remote", "list", "--json").json()] == ["", ""]


def test_a_share_s_only_remote_restored_from_an_old_copy_is_renewed_for_every_device(world: World) -> None:
    """Review 7 diff F5: the advice for a rolled-back remote (`remote remove` then `remote add`) was refused on
    a share with one remote ("cannot remove the only remote"; "a remote named 'origin' exists already"):
    every sync exited 4 for ever. `fog remote renew` gives the entry a new instance, as remove + add did."""
    a, b = make_pair(world)
    shutil.copytree(world.remote, world.tmp / "origin.old")
    a.write("doc.txt", "edit 1\n", mtime_ns=OLD_MTIME_NS + 1)
    a.fog("push")
    b.pull()
    shutil.rmtree(world.remote)
    (world.tmp / "origin.old").rename(world.remote)  # restored from an older copy
    for dev in (a, b):
        r = dev.fog("sync", expect=4)
        assert "rolled back" in r.err and "`fog remote renew origin`" in r.err, str(r)
    r = a.fog("remote", "renew", "origin")
    assert "accepted as it is now, for every device" in r.out, str(r)
    a.fog("sync")
    b.write("from-b.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    for _ in range(2):
        r = b.fog("sync")
        assert "refused" not in r.err and "rolled back" not in r.err, str(r)
    a.fog("sync")
    assert a.read("from-b.txt") == "b\n" and b.read("doc.txt") == "edit 1\n"
    assert [i["refused"] for i in a.fog("remote", "list", "--json").json()] == [""]
    c = world.device("third")
    run_fog(["clone", world.remote, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("doc.txt") == "edit 1\n" and c.read("from-b.txt") == "b\n"
    assert "no remote named 'nope'" in a.fog("remote", "renew", "nope", expect=1).error_line()
