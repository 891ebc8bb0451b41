"""Several remotes per share: fan-out push, merged pull, a remote down, catching up.

Two local-directory remotes stand in for any kind (the backend contract makes
them interchangeable); a "down" remote is one whose directory was moved away,
as an unmounted disk is.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, make_pair, run_fog


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _logs(remote: Path) -> list[Path]:
    return sorted(p for p in remote.glob("shares/*/log/*/*") if p.is_file())


def _add_usb(world: World, dev: Device) -> Path:
    usb = world.tmp / "usb"
    doc = dev.fog("remote", "add", "usb", usb, "--json").json()
    assert doc["name"] == "usb" and doc["pending"] > 0  # the whole history is queued for it
    return usb


def test_new_remote_is_seeded_and_clonable_alone(world: World) -> None:
    a, _ = make_pair(world)
    usb = _add_usb(world, a)
    names = [r["name"] for r in a.fog("remote", "list", "--json").json()]
    assert names == ["origin", "usb"]
    a.fog("push")
    assert [r["pending"] for r in a.fog("remote", "list", "--json").json()] == [0, 0]
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.tree() == a.tree()


def test_a_remote_down_does_not_stop_the_others_and_catches_up(world: World) -> None:
    a, b = make_pair(world)
    usb = _add_usb(world, a)
    a.fog("push")
    usb.rename(world.tmp / "usb-unplugged")
    a.write("doc.txt", "while the disk was away\n", mtime_ns=OLD_MTIME_NS)
    before = _logs(world.remote)
    r = a.fog("push", expect=1)
    assert "usb" in r.err and "does not exist" in r.err
    assert len([line for line in r.err.splitlines() if line.strip()]) == 1
    assert len(_logs(world.remote)) == len(before) + 1  # origin got the batch
    b.pull()
    assert b.read("doc.txt") == "while the disk was away\n"
    pending = {r["name"]: r["pending"] for r in a.fog("remote", "list", "--json").json()}
    assert pending == {"origin": 0, "usb": 1}
    r = a.fog("push", expect=1)  # nothing new here, but a version waits for usb: not "Nothing to push"
    assert "Nothing to push" not in r.out and "usb" in r.err, str(r)
    (world.tmp / "usb-unplugged").rename(usb)
    a.fog("push")  # nothing new to record; the queued version reaches usb
    assert {r["name"]: r["pending"] for r in a.fog("remote", "list", "--json").json()} == {"origin": 0, "usb": 0}
    a.fog("check", "usb", "--read-data")
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("doc.txt") == "while the disk was away\n"


def test_pull_merges_every_remote_and_names_one_that_fails(world: World) -> None:
    a, b = make_pair(world)
    usb = _add_usb(world, a)
    a.fog("push")
    b.fog("remote", "add", "usb", usb)
    b.write("from-b.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    b.fog("push", "usb")  # only to usb
    r = a.fog("pull")
    assert (a.root / "from-b.txt").read_text() == "b\n"
    assert "failed" not in r.err
    usb.rename(world.tmp / "gone")
    r = a.fog("pull", expect=1)
    assert "usb" in r.err
    r = a.fog("sync", expect=1)  # origin is still synced; usb named
    assert "usb" in r.err


def test_remote_remove_and_bad_names(world: World) -> None:
    a, _ = make_pair(world)
    _add_usb(world, a)
    a.fog("remote", "add", "usb", world.tmp / "other", expect=1)  # the name is taken
    a.fog("remote", "add", "bad/name", world.tmp / "x", expect=2)
    a.fog("remote", "remove", "usb")
    assert [r["name"] for r in a.fog("remote", "list", "--json").json()] == ["origin"]
    a.fog("remote", "remove", "origin", expect=1)  # never the last one


def test_a_remote_inside_the_share_is_refused(world: World) -> None:
    """`remote add` / `set-url` took a directory inside the share: every push then stored the remote's own
    packs and logs in it again, and never reached "nothing to push". `init` refused it already; so do
    they now, and `clone` of a remote into a directory that holds it."""
    a = world.init("laptop")
    a.write("a.txt", "a\n")
    (a.root / "sub").mkdir()
    a.push()
    link = world.tmp / "link-to-share"
    link.symlink_to(a.root)
    for args in (
        ["remote", "add", "inside", a.root / "inside-remote"],
        ["remote", "add", "inside", link / "sub" / "r"],
        ["remote", "set-url", "origin", a.root / "x"],
        ["remote", "set-url", "origin", "--local", a.root / "x"],
    ):
        line = a.fog(*args, expect=2).error_line()
        assert "inside the share" in line, line
    assert not (a.root / "inside-remote").exists() and not (a.root / "x").exists()
    assert "Nothing to push" in a.fog("push").out
    holder = world.tmp / "holder"
    shutil.copytree(world.remote, holder / "remote")
    (world.tmp / "home-x").mkdir()
    args = ["clone", holder / "remote", holder, "--into-existing", "--master-key-file", world.key]
    line = run_fog(args, home=world.tmp / "home-x", cwd=world.tmp, expect=2).error_line()
    assert "inside the share" in line, line
    assert not (holder / ".fog").exists()


def test_sync_quiet_prints_nothing_when_another_device_added_a_remote(world: World) -> None:
    """`fog sync -q` from cron printed "remote usb was added on another device" (exit 0): cron mailed it."""
    a, b = make_pair(world)
    _add_usb(world, a)
    a.fog("push")
    r = b.fog("sync", "-q")
    assert (r.out, r.err) == ("", ""), str(r)
    assert [x["name"] for x in b.fog("remote", "list", "--json").json()] == ["origin", "usb"]
    a.fog("remote", "remove", "usb")
    r = b.fog("pull")  # not quiet: told
    assert "remote usb was removed on another device" in r.err, str(r)


def test_a_remote_added_while_the_only_other_is_down_gets_the_whole_history(world: World) -> None:
    """Replication review: with origin's disk gone, `remote add x` exited 1 but left x half-added (listed,
    nothing queued); after skipping origin the push said "Nothing to push", and a clone of x was empty."""
    a = world.init("laptop")
    a.write("keep.txt", "keep me\n")
    a.fog("push")
    world.remote.rename(world.tmp / "dead")
    usb = _add_usb(world, a)
    a.fog("remote", "skip", "origin")
    a.fog("push")
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("keep.txt") == "keep me\n"


def test_remote_list_counts_a_forget_waiting_for_a_remote(world: World) -> None:
    """Replication review: a forget made while a remote was down waited for it, and `remote list` said
    "up to date" (pending 0) until the next push published it."""
    a = world.init("laptop")
    for n in range(3):
        a.write("f.txt", f"v{n}\n")
        a.fog("push")
    usb = _add_usb(world, a)
    a.fog("push")
    usb.rename(world.tmp / "usb-away")
    a.fog("forget", "--keep-last", "1", "f.txt", expect=1)  # published on origin, not on usb
    (world.tmp / "usb-away").rename(usb)
    listed = {r["name"]: r for r in a.fog("remote", "list", "--json").json()}
    assert listed["usb"]["forgets"] == 2 and listed["origin"]["forgets"] == 0, listed
    assert "2 forget(s) to publish" in a.fog("remote", "list").out
    a.fog("push")
    assert a.fog("remote", "list", "--json").json()[1]["forgets"] == 0


def test_versions_no_source_holds_wait_and_the_new_work_still_reaches_the_remote(world: World) -> None:
    """Replication review: with origin skipped, a remote added later could not be given the old files
    (their objects are only on origin), and every push then failed on it whole: new work was published
    nowhere and a clone of it was empty. The old versions now wait in its queue; the rest goes."""
    a = world.init("laptop")
    a.write("big.bin", bytes(range(256)) * 1200, mtime_ns=OLD_MTIME_NS)  # several blocks: a manifest node
    a.write("small.txt", "small\n", mtime_ns=OLD_MTIME_NS)  # (old: their stat is trusted, they are not read again)
    a.fog("push")
    usb = _add_usb(world, a)
    a.fog("remote", "skip", "origin")
    a.write("new.txt", "important new work\n")
    r = a.fog("push", expect=1)
    assert "cannot publish 2 version(s) to usb yet" in r.err and "usb batch" in r.out, str(r)
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("new.txt") == "important new work\n"
    listed = {x["name"]: x for x in a.fog("remote", "list", "--json").json()}
    assert listed["usb"]["pending"] == 2
    a.fog("remote", "unskip", "origin")
    a.fog("push")
    d = world.device("fourth")
    run_fog(["clone", usb, d.root, "--master-key-file", world.key], home=d.home, cwd=world.tmp)
    assert d.tree() == a.tree()


def test_cat_restore_and_diff_read_another_remote_when_the_default_is_down(world: World) -> None:
    """Review 4 (F7): with origin's disk unplugged, `cat`/`restore`/`diff` of an old version exited 1 ("is the
    disk mounted?") although usb held every version; only `remote skip origin` made them read it. They fall
    back to the other remotes in order, and name every one when none opens."""
    import json

    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    usb = _add_usb(world, a)
    a.write("a.txt", "v2\n")
    a.fog("push")
    config = a.root / ".fog" / "config.json"
    doc = json.loads(config.read_text())
    doc["settings"] = {"archive_max_bytes": 0}  # no local copy: the old version must come from a remote
    config.write_text(json.dumps(doc))
    shutil.rmtree(a.root / ".fog" / "archive")
    world.remote.rename(world.tmp / "unplugged")
    assert a.fog("cat", "a.txt@~1").out == "v1\n"
    out = world.tmp / "out.txt"
    a.fog("restore", "a.txt@~1", "-o", out)
    assert out.read_text() == "v1\n"
    assert "v1" in a.fog("diff", "a.txt@~1").out
    assert [r["skipped"] for r in a.fog("remote", "list", "--json").json()] == [False, False]
    usb.rename(world.tmp / "usb-away")
    line = a.fog("cat", "a.txt@~1", expect=1).error_line()
    assert "no remote of this share can be reached" in line and str(usb) in line and str(world.remote) in line, line


def test_a_clone_from_a_disk_that_lags_also_reads_the_other_remotes(world: World) -> None:
    """Review 6, remotes R8: a clone from the USB disk at hand (unplugged while the laptop pushed) said
    "Cloned", exit 0, with last month's files, although it learnt origin, which holds the rest, in that run."""
    a, _ = make_pair(world)
    usb = _add_usb(world, a)
    a.fog("push")
    usb.rename(world.tmp / "usb-away")
    a.write("doc.txt", "v2 while usb was away\n")
    a.write("new.txt", "new\n")
    a.fog("push", expect=1)  # origin only
    (world.tmp / "usb-away").rename(usb)
    c = world.device("third")
    r = run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert "this device now also uses remote origin" in r.err, r.err
    assert c.tree() == a.tree()


def test_two_disks_plugged_in_turn_get_a_path_s_versions_in_their_order(world: World) -> None:
    """Review 6, remotes R9: one writer, two disks plugged in turn. v2 reached only origin; v3, pushed with only
    usb plugged, was published on usb (its objects were there) while v2 stayed queued. Readers of usb then saw
    v3 with an unknown parent and took the writer's own history for a conflict: a conflict copy of v1 on every
    device, exit 3. A version now waits behind the one it was made from."""
    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    usb = _add_usb(world, a)
    a.fog("push")
    c = world.clone("reader")  # had v1; reads only usb from now on
    c.fog("remote", "skip", "origin")
    usb.rename(world.tmp / "usb-away")
    a.write("a.txt", "v2\n")
    a.fog("push", expect=1)  # origin only
    world.remote.rename(world.tmp / "origin-away")
    (world.tmp / "usb-away").rename(usb)
    a.write("a.txt", "v3 from v2\n")
    pushed = a.fog("push", expect=1)  # usb only: v2's objects are on no reachable remote, and v3 waits behind it
    b = world.device("second")
    run_fog(["clone", usb, b.root, "--master-key-file", world.key], home=b.home, cwd=world.tmp)
    c.pull()
    for dev in (b, c):
        assert dev.conflicts("a") == [] and dev.read("a.txt") == "v1\n", dev.name
    assert "cannot publish 1 version(s) to usb yet" in pushed.err and "1 later version(s)" in pushed.err, str(pushed)
    assert {x["name"]: x["pending"] for x in a.fog("remote", "list", "--json", "--offline").json()}["usb"] == 2
    (world.tmp / "origin-away").rename(world.remote)
    a.fog("sync")  # usb gets v2, then v3
    for dev in (b, c, a):
        r = dev.fog("sync")
        assert "conflict" not in r.err, str(r)
        assert dev.read("a.txt") == "v3 from v2\n" and dev.conflicts("a") == [], dev.name


def _v2_only_on_origin(world: World) -> tuple[Device, Path]:
    """A laptop whose a.txt v1 is on origin and usb, and v2 on origin only (pushed while usb was away)."""
    a = world.init("laptop")
    a.write("a.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    usb = _add_usb(world, a)
    a.fog("push")
    usb.rename(world.tmp / "usb-away")
    a.write("a.txt", "v2\n")
    a.fog("push", expect=1)
    (world.tmp / "usb-away").rename(usb)
    return a, usb


def test_removing_the_only_remote_that_holds_a_version_is_refused(world: World) -> None:
    """Review 6, remotes R10: `remote remove origin` while origin alone held a version (usb was unplugged when it
    was pushed) said nothing; every push then failed for ever with advice that did nothing, and wiping the
    retired disk lost a version `fog log` still listed. It is refused until a push copied it over."""
    a, usb = _v2_only_on_origin(world)
    line = a.fog("remote", "remove", "origin", expect=1).error_line()
    assert "1 version(s) are on remote origin and not yet on usb" in line, line
    assert "`fog push`" in line and "`fog remote remove origin --force`" in line, line
    assert [x["name"] for x in a.fog("remote", "list", "--json", "--offline").json()] == ["origin", "usb"]
    a.fog("push")  # what the refusal says: the catch-up copies v2 over from origin
    a.fog("remote", "remove", "origin")
    shutil.rmtree(world.remote)  # the retired disk is wiped
    shutil.rmtree(a.root / ".fog" / "archive", ignore_errors=True)
    assert a.fog("cat", "a.txt@~1").out == "v1\n"
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.read("a.txt") == "v2\n"


def test_a_forced_remove_says_what_waits_and_how_to_get_it_back(world: World) -> None:
    """Review 6, remotes R10: after the removal, every push said "`fog remote unskip` a remote that holds
    them, or run `fog check --repair` there", neither of which could help. `--force` warns, and the advice
    (add the removed remote again) works."""
    a, usb = _v2_only_on_origin(world)
    a.write("a.txt", "v3\n")  # (v2 is no longer in the working tree either)
    r = a.fog("remote", "remove", "origin", "--force")
    assert "1 version(s) that only origin held stay queued" in r.err and "fog remote add origin" in r.err, str(r)
    r = a.fog("push", expect=1)
    assert "`fog remote add` it again if it was removed" in r.err and "check --repair" not in r.err, str(r)
    a.fog("remote", "add", "origin", world.remote)
    a.fog("push")
    assert {x["name"]: x["pending"] for x in a.fog("remote", "list", "--json").json()} == {"origin": 0, "usb": 0}


def test_a_remote_added_on_two_devices_under_one_name_tells_the_device_whose_entry_lost(world: World) -> None:
    """Review 6, remotes R11: two devices each `remote add backup` (another disk each) before they sync: the
    later entry replaced the other for every device, and the first device was never told its disk was no
    longer written (every command exited 0). It is told once, `remote list` shows it until it acts, and
    the advice works."""
    a, b = make_pair(world)
    ra, rb = world.tmp / "RA", world.tmp / "RB"
    a.fog("remote", "add", "backup", ra)
    b.fog("remote", "add", "backup", rb)  # later: its entry is the newer one
    r = a.fog("sync", "-q")
    lines = [x for x in r.err.splitlines() if x.strip()]
    assert len(lines) == 1 and "remote backup was also added on another device" in lines[0], str(r)
    assert f"replaced this device's ({ra})" in lines[0] and f"`fog remote add OTHERNAME {ra}`" in lines[0], str(r)
    assert a.fog("sync", "-q").err == ""  # told once
    listed = {x["name"]: x for x in a.fog("remote", "list", "--json").json()}
    assert listed["backup"]["url"] == str(rb) and listed["backup"]["replaced"] == str(ra), listed
    assert f"this device's {ra} was replaced by it" in a.fog("remote", "list").out
    b.fog("sync", "-q")
    assert b.fog("sync").err == "" and b.fog("remote", "list", "--json").json()[0]["replaced"] == ""
    a.fog("remote", "add", "backup-a", ra)  # what the line says, for another disk
    assert all(x["replaced"] == "" for x in a.fog("remote", "list", "--json").json())
    a.fog("push")
    assert _logs(ra) and _logs(rb)


# origin's packs cannot be read (a connection dropped on every pack read): what another remote gives applies
_PACKS_DOWN_ON_ORIGIN = """
from fog.backends import local
from fog.errors import RemoteError
_get_range, _get = local.LocalBackend.get_range, local.LocalBackend.get
def _refuse(self, name):
    if "/packs/" in name and str(self.root).endswith("/remote"):
        raise RemoteError(f"cannot read {name} on remote origin: connection reset")
local.LocalBackend.get_range = lambda self, name, *a: (_refuse(self, name), _get_range(self, name, *a))[1]
local.LocalBackend.get = lambda self, name: (_refuse(self, name), _get(self, name))[1]
"""


def test_a_path_another_remote_applied_in_the_same_pull_is_not_reported_failed(world: World) -> None:
    """review 7 netfail F1: origin's pack reads failed, usb's copy applied big.bin in the same pull, and the
    pull still said "not applied (retried by the next pull): big.bin" and listed it under `failed`."""
    a, b = make_pair(world)
    _add_usb(world, a)
    a.fog("push")
    b.pull()
    a.write("big.bin", os.urandom(100_000))
    a.fog("push")
    r = b.fog("pull", "--json", expect=None, patch=_PACKS_DOWN_ON_ORIGIN)
    assert (b.root / "big.bin").read_bytes() == (a.root / "big.bin").read_bytes()
    doc = r.json()
    assert "big.bin" in doc["updated"] and doc["failed"] == [], doc
    assert "not applied" not in r.err, r.err


def test_a_device_using_only_the_retired_remote_moves_to_the_new_one_without_an_error(world: World) -> None:
    """review 7 newuser 5: README's way to retire a disk (add the new remote, push, remove the old one): the
    other device's next sync learnt both, pulled and pushed through the new remote, yet said "origin failed:
    removed on another device, but it is the only remote this device uses" and exited 1 (the new remote was
    not counted yet)."""
    a, b = make_pair(world)
    a.fog("remote", "add", "nas", world.tmp / "nas")
    a.fog("push")
    a.fog("remote", "remove", "origin")
    b.write("b.txt", "from b\n")
    r = b.fog("sync")
    assert "failed" not in r.err and "unskip" not in r.err, r.err
    assert [x["name"] for x in b.fog("remote", "list", "--json").json()] == ["nas"]
    a.pull()
    assert a.read("b.txt") == "from b\n"


def _copy_of_origin(world: World, usb: Path, how: str) -> None:
    """`usb` made outside fog from origin: `planted`, the marker and this device's batch 1 alone (a store that
    read the other store); `copied`, a `cp -a` of origin stopped before its packs."""
    if how == "copied":
        shutil.copytree(world.remote, usb, symlinks=True)
        for packs in usb.glob("shares/*/packs"):
            shutil.rmtree(packs)
        return
    (batch,) = [p for p in _logs(world.remote) if p.name == "0000000001"]
    place = usb / batch.relative_to(world.remote)
    place.parent.mkdir(parents=True)
    shutil.copy2(batch, place)
    shutil.copy2(world.remote / "fog-store", usb / "fog-store")


@pytest.mark.parametrize("how", ["planted", "copied"])
@pytest.mark.parametrize("command", ["push", "sync"])
def test_a_new_remote_holding_a_copy_of_this_devices_batches_still_gets_their_objects(
    world: World, how: str, command: str
) -> None:
    """Review 7, attacker F7: a remote added while it already held a copy of this device's own batches
    (planted by its store, or an interrupted copy of origin without its packs) was taken as complete: the
    batches were adopted as a killed push's, their versions cleared from its outbox, and their objects
    never sent; push and sync exited 0, `remote list` said up to date, only `fog check usb` failed."""
    a = world.init("laptop")
    a.write("f.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.write("big.bin", bytes(range(256)) * 1200, mtime_ns=OLD_MTIME_NS)  # several blocks: a manifest node
    a.fog("push")
    a.write("f.txt", "v2\n", mtime_ns=OLD_MTIME_NS + 1)
    a.fog("push")
    usb = world.tmp / "usb"
    _copy_of_origin(world, usb, how)
    _add_usb(world, a)
    a.fog(command)
    assert {x["name"]: x["pending"] for x in a.fog("remote", "list", "--json").json()} == {"origin": 0, "usb": 0}
    a.fog("check", "usb", "--read-data")  # every object its batches name is there
    a.fog("remote", "remove", "origin", "--force")
    c = world.device("third")
    run_fog(["clone", usb, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert c.tree() == a.tree()


def test_a_copied_batch_whose_objects_no_remote_holds_leaves_its_versions_queued(world: World) -> None:
    """Attacker F7 with origin skipped: nothing can give usb the objects its planted batch 1 names, so its
    versions stay queued for it (the push says so, exit 1) until origin is read again."""
    a = world.init("laptop")
    a.write("f.txt", "v1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    usb = world.tmp / "usb"
    _copy_of_origin(world, usb, "planted")
    _add_usb(world, a)
    a.fog("remote", "skip", "origin")
    r = a.fog("push", expect=1)
    assert "cannot publish 1 version(s) to usb yet" in r.err, str(r)
    assert {x["name"]: x["pending"] for x in a.fog("remote", "list", "--json").json()}["usb"] == 1
    a.fog("remote", "unskip", "origin")
    a.fog("push")
    assert {x["name"]: x["pending"] for x in a.fog("remote", "list", "--json").json()}["usb"] == 0
    a.fog("check", "usb", "--read-data")
