"""Several remotes, files that span many packs: every remote complete, catch-ups and resumed pushes.

The completeness invariant (docs/FORMAT.md, section 11): no batch is on a
remote before every object reachable from its versions is there. After every
push, catch-up, seeding of a new remote, failure and kill -9 here, `fog check
--read-data` of every remote passes and a clone from each remote alone is
byte-identical to the share. Local-directory remotes stand in for every kind
in most tests (one backend contract); test_mixed_kinds uses the real SFTP and
S3 servers together.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, Device, World, run_fog

MiB = 1 << 20


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _big(dev: Device, sizes: dict[str, int], seed: int = 1) -> dict[str, bytes]:
    rnd = random.Random(seed)
    files = {rel: rnd.randbytes(size) for rel, size in sizes.items()}
    for rel, data in files.items():
        dev.write(rel, data, mtime_ns=OLD_MTIME_NS)
    return files


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _packs(remote: Path) -> set[str]:
    return {p.name for p in remote.glob("shares/*/packs/*/*") if not p.name.startswith(".tmp-")}


def assert_complete(world: World, dev: Device, remote: str | Path, name: str) -> None:
    """check --read-data of the remote passes, and a clone from it alone equals the share."""
    r = dev.fog("check", name, "--read-data", "--json", expect=None)
    assert r.rc == 0 and r.json()["ok"], str(r)
    clone = world.device(f"clone-{name}-{len(world.devices)}")
    run_fog(["clone", remote, clone.root, "--master-key-file", world.key], home=clone.home, cwd=world.tmp)
    assert clone.tree() == dev.tree()


def _init(world: World) -> Device:
    return world.init("laptop")


def test_new_remote_gets_every_block_and_only_once(world: World) -> None:
    a = _init(world)
    files = _big(a, {"big.bin": 20 * MiB, "five.bin": 5 * MiB, "twelve.bin": 12 * MiB})
    a.fog("push")
    origin_packs = _packs(world.remote)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    doc = a.fog("push", "--json").json()
    assert doc["batches"] == {"usb": 1}
    sent = sum(len(d) for d in files.values())
    assert doc["bytes_uploaded"] <= sent * 1.02 + MiB, doc  # what usb lacked, once
    assert _packs(world.remote) == origin_packs  # origin received nothing again
    assert_complete(world, a, usb, "usb")
    assert a.fog("push", "--json").json()["bytes_uploaded"] == 0


def test_remote_down_during_push_catches_up_without_resending(world: World) -> None:
    a = _init(world)
    _big(a, {"seed.txt": 10})
    a.fog("push")
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    usb.rename(world.tmp / "unplugged")
    files = _big(a, {"big.bin": 19 * MiB, "five.bin": 5 * MiB, "twelve.bin": 12 * MiB}, seed=2)
    r = a.fog("push", expect=1)
    assert "usb" in r.error_line()
    (world.tmp / "unplugged").rename(usb)
    origin_size = _size(world.remote)
    doc = a.fog("push", "--json").json()
    assert doc["batches"] == {"usb": 2}
    data = sum(len(d) for d in files.values())
    assert doc["bytes_uploaded"] <= data * 1.02 + MiB, doc
    assert _size(world.remote) - origin_size < 64 * 1024  # origin got one batch at most, no data
    for name, remote in (("origin", world.remote), ("usb", usb)):
        assert_complete(world, a, remote, name)


FAIL_AFTER = """
from fog.backends.local import LocalBackend
from fog.errors import RemoteError
_real = LocalBackend.put
_count = {{"n": 0}}
def _put(self, name, data):
    if "{target}" in str(self.root) and "/packs/" in name:
        _count["n"] += 1
        if _count["n"] > {after}:
            raise RemoteError("the disk went away")
    return _real(self, name, data)
LocalBackend.put = _put
"""


def test_remote_failing_mid_push_is_completed_by_the_next(world: World) -> None:
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    files = _big(a, {"big.bin": 40 * MiB, "small.txt": 100})
    r = a.fog("push", expect=1, patch=FAIL_AFTER.format(target="usb", after=2))
    assert "usb" in r.error_line() and "went away" in r.error_line()
    assert not list(usb.glob("shares/*/log/*/*"))  # no batch on usb
    doc = a.fog("push", "--json").json()
    assert doc["batches"] == {"usb": 1}
    data = sum(len(d) for d in files.values())
    assert doc["bytes_uploaded"] <= data * 0.9, doc  # the two packs usb took are not sent again
    for name, remote in (("origin", world.remote), ("usb", usb)):
        assert_complete(world, a, remote, name)


KILL_AFTER = """
import os, signal
from fog.backends.local import LocalBackend
_real = LocalBackend.put
_count = {{"n": 0}}
def _put(self, name, data):
    _real(self, name, data)
    if "{target}" in str(self.root) and "/packs/" in name:
        _count["n"] += 1
        if _count["n"] >= {after}:
            os.kill(os.getpid(), signal.SIGKILL)
LocalBackend.put = _put
"""


@pytest.mark.parametrize("after", [1, 4])
def test_push_killed_then_resumed_sends_only_the_rest(world: World, after: int) -> None:
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    files = _big(a, {"big.bin": 48 * MiB, "other.bin": 3 * MiB})
    r = a.fog("push", expect=-9, patch=KILL_AFTER.format(target="usb", after=after))
    assert r.rc == -9
    sent_before = _size(usb)
    assert sent_before >= after * 8 * MiB
    doc = a.fog("push", "--json").json()
    data = sum(len(d) for d in files.values())
    # origin may have taken one pack more than usb before the kill; nothing else is sent twice
    assert doc["bytes_uploaded"] <= 2 * (data - sent_before) + 10 * MiB, (doc, sent_before)
    assert doc["bytes_deduped"] >= sent_before - 9 * MiB, (doc, sent_before)
    for name, remote in (("origin", world.remote), ("usb", usb)):
        assert_complete(world, a, remote, name)


def test_catch_up_killed_then_resumed(world: World) -> None:
    a = _init(world)
    _big(a, {"big.bin": 40 * MiB})
    a.fog("push")
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push", expect=-9, patch=KILL_AFTER.format(target="usb", after=2))
    assert not list(usb.glob("shares/*/log/*/*"))
    partial = _size(usb)
    doc = a.fog("push", "--json").json()
    assert doc["batches"] == {"usb": 1}
    assert doc["bytes_uploaded"] <= 40 * MiB - partial + 9 * MiB, (doc, partial)
    assert_complete(world, a, usb, "usb")


def test_a_remote_that_lost_packs_is_refilled_by_catch_up(world: World) -> None:
    """A remote losing data behind fog's back: check finds it, the next push puts it back."""
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    _big(a, {"big.bin": 30 * MiB})
    a.fog("push")
    victims = sorted(usb.glob("shares/*/packs/*/*"))[:2]
    for p in victims:
        p.unlink()
    r = a.fog("check", "usb", expect=4)
    assert "missing" in r.err
    shutil.rmtree(world.tmp / "clone-probe", ignore_errors=True)
    a.fog("check", "usb", "--repair")
    assert_complete(world, a, usb, "usb")


def test_mixed_kinds_local_sftp_s3(world: World, ssh_home, s3_env: str, s3_url: str) -> None:  # type: ignore[no-untyped-def]
    """One share on a local directory, an SFTP server and an S3 bucket; S3 fails mid-push."""
    a = _init(world)
    sftp = ssh_home.url(ssh_home.remote_dir("mixed"))
    s3 = f"{s3_url}?endpoint={s3_env}&path_style=1"
    a.fog("remote", "add", "sftp", sftp)
    a.fog("remote", "add", "s3", s3)
    files = _big(a, {"big.bin": 30 * MiB, "mid.bin": 6 * MiB, "tiny.txt": 9})
    fail_s3 = """
from fog.backends.s3 import S3Backend
from fog.errors import RemoteError
_real = S3Backend.put
_n = {"n": 0}
def _put(self, name, data):
    if "/packs/" in name:
        _n["n"] += 1
        if _n["n"] > 2:
            raise RemoteError("S3 throttled us for good")
    return _real(self, name, data)
S3Backend.put = _put
"""
    r = a.fog("push", expect=1, patch=fail_s3)
    assert "s3" in r.error_line()
    doc = a.fog("push", "--json").json()
    assert doc["batches"] == {"s3": 1}
    assert doc["bytes_uploaded"] <= sum(len(d) for d in files.values()), doc
    for name, remote in (("origin", world.remote), ("sftp", sftp), ("s3", s3)):
        assert_complete(world, a, remote, name)


def test_outage_costs_no_reupload_of_unchanged_files(world: World) -> None:
    """Touching a file (racy re-read) while a remote lags sends nothing to the remotes that hold it."""
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    _big(a, {"big.bin": 19 * MiB})
    a.fog("push")
    before = _packs(world.remote)
    os.utime(a.root / "big.bin")  # re-read by the next push; same content
    doc = a.fog("push", "--json").json()
    assert doc["bytes_uploaded"] == 0, doc
    assert _packs(world.remote) == before


# -- remotes are in the SyncConfig: every device knows them ------------------------------------


def _remotes(dev: Device) -> dict[str, dict]:
    return {r["name"]: r for r in dev.fog("remote", "list", "--json").json()}


def test_remote_added_on_one_device_is_used_by_every_device(world: World) -> None:
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    assert set(_remotes(b)) == {"origin"} or _remotes(b)["usb"]["pending"] == 0
    r = b.fog("pull", "--json").json()
    assert r["remotes_added"] == ["usb"]
    listed = _remotes(b)
    assert listed["usb"]["url"] == str(usb) and listed["usb"]["reachable"] is True
    _big(b, {"from-b.bin": 9 * MiB, "from-b.txt": 5}, seed=3)
    doc = b.fog("push", "--json").json()
    assert set(doc["batches"]) == {"origin", "usb"}
    assert_complete(world, b, usb, "usb")  # B's files and A's: a clone from usb alone lacks nothing
    # removal reaches B too; its data stays where it is
    a.fog("remote", "remove", "usb")
    r = b.fog("pull", "--json").json()
    assert r["remotes_removed"] == ["usb"]
    assert set(_remotes(b)) == {"origin"}
    assert list(usb.glob("shares/*/packs/*/*"))


def test_sync_pushes_to_a_remote_its_pull_just_learnt(world: World) -> None:
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.write("late.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    doc = b.fog("sync", "--json").json()
    assert set(doc["push"]["batches"]) == {"origin", "usb"}
    assert_complete(world, b, usb, "usb")


def test_a_device_that_cannot_reach_a_remote_overrides_or_skips_it(world: World) -> None:
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    usb.rename(world.tmp / "usb-here")  # the disk is mounted elsewhere on B
    assert b.fog("pull", "--json").json()["remotes_added"] == ["usb"]  # learnt; B cannot reach it
    r = b.fog("remote", "list", "--json").json()
    assert [x["reachable"] for x in r if x["name"] == "usb"] == [False]
    b.write("b.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    assert "usb" in b.fog("push", expect=1).error_line()
    b.fog("remote", "set-url", "usb", world.tmp / "usb-here", "--local")
    doc = b.fog("push", "--json").json()
    assert "usb" in doc["batches"]
    info = _remotes(b)["usb"]
    assert info["url"] == str(world.tmp / "usb-here") and info["shared_url"] == str(usb)
    assert _remotes(a)["usb"]["url"] == str(usb)  # A is not affected
    b.fog("remote", "skip", "usb")
    b.write("b2.txt", "b2\n", mtime_ns=OLD_MTIME_NS)
    doc = b.fog("push", "--json").json()
    assert set(doc["batches"]) == {"origin"} and not doc["remote_errors"]
    b.pull()  # a pull does not bring a skipped remote back
    assert _remotes(b)["usb"]["skipped"] is True
    b.fog("remote", "unskip", "usb")
    assert "usb" in b.fog("push", "--json").json()["batches"]


def test_repair_reports_what_it_could_not_repair_and_uses_the_working_tree(world: World) -> None:
    a = _init(world)
    files = _big(a, {"big.bin": 12 * MiB, "gone.bin": 3 * MiB}, seed=5)
    a.fog("push")
    for p in world.remote.glob("shares/*/packs/*/*"):
        p.unlink()  # the only remote lost every pack
    (a.root / "gone.bin").unlink()  # and one file is gone from the tree too
    r = a.fog("check", "--repair", "--json", expect=4)
    doc = r.json()
    assert doc["repaired_from"].get("working tree", 0) > 0
    assert doc["unrepaired"] and all("gone.bin" in line for line in doc["unrepaired"])
    a.fog("restore", "big.bin@~0", "--output", world.tmp / "big.out")
    assert (world.tmp / "big.out").read_bytes() == files["big.bin"]


def test_read_data_subset_reads_part_of_the_packs(world: World) -> None:
    a = _init(world)
    _big(a, {"big.bin": 40 * MiB})
    a.fog("push")
    docs = [a.fog("check", "--read-data-subset", f"{n}/3", "--json").json() for n in (1, 2, 3)]
    total = docs[0]["packs_total"]
    assert total >= 5 and sum(d["packs_read"] for d in docs) == total
    assert a.fog("check", "--read-data-subset", "100%", "--json").json()["packs_read"] == total
    bad = a.fog("check", "--read-data-subset", "0%", expect=2)
    assert "read-data-subset" in bad.error_line()


@pytest.mark.parametrize("seed", [11, 12])
def test_kill_9_at_random_moments_of_push_seeding_and_catch_up(world: World, seed: int) -> None:
    """Push (two remotes), seeding of a new remote and catch-up, each killed at random moments."""
    import signal
    import subprocess
    import sys
    import time

    from test_multidevice import fog_env

    rnd = random.Random(seed)
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)

    def killed_push() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fog", "-C", str(a.root), "push", "-q"],
            env=fog_env(a.home),
            cwd=world.tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rnd.uniform(0.3, 1.6))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert b"Traceback" not in err, (seed, err)

    _big(a, {"one.bin": 24 * MiB, "two.bin": 9 * MiB}, seed=seed)
    killed_push()  # the push itself
    killed_push()  # and its resumption
    a.fog("push")
    new = world.tmp / "new"
    a.fog("remote", "add", "new", new)
    killed_push()  # seeding a new remote
    a.fog("push")
    (new).rename(world.tmp / "new-away")
    _big(a, {"three.bin": 17 * MiB}, seed=seed + 1)
    a.fog("push", expect=1)  # new is away: it lags
    (world.tmp / "new-away").rename(new)
    killed_push()  # catch-up
    a.fog("push")
    for name, remote in (("origin", world.remote), ("usb", usb), ("new", new)):
        assert_complete(world, a, remote, name)


def _usb_with_a_damaged_pack(world: World, size: int, *, truncate: bool = False) -> tuple[Device, Path, Path]:
    """A share on origin and usb, one file of `size` pushed; usb's first pack altered (one bit), or
    truncated to nothing: (the device, usb, that pack)."""
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    _big(a, {"big.bin": size})
    a.fog("push")
    victim = sorted(usb.glob("shares/*/packs/*/*"))[0]
    data = bytearray(victim.read_bytes())
    if truncate:
        data.clear()
    else:
        data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))
    return a, usb, victim


def test_repair_of_a_corrupt_pack_heals_once_and_check_passes_after(world: World) -> None:
    a, usb, victim = _usb_with_a_damaged_pack(world, 20 * MiB)
    packs = len(list(usb.glob("shares/*/packs/*/*")))
    a.fog("check", "usb", "--read-data", expect=4)
    doc = a.fog("check", "usb", "--read-data", "--repair", "--json").json()
    assert doc["repaired_from"] == {"origin": 1} and doc["ok"], doc
    assert any("intact copy" in note for note in doc["notes"])
    assert len(list(usb.glob("shares/*/packs/*/*"))) == packs + 1  # one new pack, nothing deleted
    assert victim.exists()
    a.fog("check", "usb", "--read-data")
    assert a.fog("push", "--json").json()["bytes_uploaded"] == 0
    assert_complete(world, a, usb, "usb")


def test_repair_alone_finds_and_heals_a_corrupt_pack(world: World) -> None:
    """`fog check usb --repair`, as fog-check(1)'s example has it (no --read-data): it said "no problems"
    (exit 0) and left the corrupt object, since only a read finds one. --repair reads every pack."""
    a, usb, victim = _usb_with_a_damaged_pack(world, 3 * MiB)
    doc = a.fog("check", "usb", "--repair", "--json").json()
    assert doc["read_data"] and doc["repaired_from"] == {"origin": 1} and doc["ok"], doc
    a.fog("check", "usb", "--read-data")


def test_a_pack_whose_header_is_gone_is_garbage_once_repaired(world: World) -> None:
    """A pack truncated on one remote: --repair put its objects back from the other, but `check` still exited
    4 for ever ("pack shorter than its header": prune leaves unreadable packs alone), with no next step. Its
    bytes do not match its name and nothing the history needs is missing: a note naming the file to delete."""
    a, usb, victim = _usb_with_a_damaged_pack(world, 3 * MiB, truncate=True)
    a.fog("check", "usb", expect=4)
    doc = a.fog("check", "usb", "--repair", "--json").json()
    assert doc["ok"] and doc["repaired_from"]["origin"] > 0, doc
    doc = a.fog("check", "usb", "--json").json()
    assert doc["ok"] and not doc["problems"], doc
    assert any("it is garbage, delete" in n and victim.name in n for n in doc["notes"]), doc["notes"]
    victim.unlink()  # as the note says
    assert not a.fog("check", "usb", "--read-data", "--json").json()["notes"]


# -- a remote's name, URL and store: state never carried to the wrong store ---------------------


def test_one_store_under_two_spellings_is_one_remote(world: World) -> None:
    from test_multidevice import make_pair

    a, _ = make_pair(world)
    c = world.device("tablet")
    url = f"file://{world.remote}"
    run_fog(["clone", url, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert set(_remotes(c)) == {"origin"}
    r = a.fog("remote", "add", "dup", url, expect=1)
    assert "already a remote" in r.error_line()
    link = world.tmp / "link-to-remote"
    link.symlink_to(world.remote)
    assert "already a remote" in a.fog("remote", "add", "dup", link, expect=1).error_line()
    for i in range(2):
        c.write(f"c{i}.txt", f"{i}\n", mtime_ns=OLD_MTIME_NS)
        c.fog("sync")
        a.fog("sync")
    assert (a.root / "c1.txt").read_text() == "1\n"


def test_a_clone_from_another_spelling_of_a_listed_remote_pulls_everything(world: World) -> None:
    """Review 4 (F4): `fog clone file://USB` (the SyncConfig lists USB as a plain path) printed "Cloned", exit 0,
    and pulled nothing: the first pull rewrote the remote's URL to the listed spelling and read nothing from
    it, leaving an "unfinished clone". The clone uses the listed spelling, and keeps URL options of its own
    (`?timeout=3`) for this device as `remote set-url --local` does."""
    from test_multidevice import make_pair

    a, _ = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    for n, url in enumerate([f"file://{usb}", f"file://{usb}?timeout=3"]):
        c = world.device(f"tablet{n}")
        run_fog(["clone", url, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
        assert c.tree() == a.tree()
        assert "Nothing to push" in c.fog("status").out
        listed = _remotes(c)
        assert listed["usb"]["url"] == (url if n else str(usb)), listed
        assert listed["usb"]["shared_url"] == (str(usb) if n else ""), listed
        c.write("more.txt", f"{n}\n", mtime_ns=OLD_MTIME_NS)
        c.fog("sync")
        a.fog("pull")
        assert (a.root / "more.txt").read_text() == f"{n}\n"


def test_a_clone_whose_pull_reads_nothing_is_not_reported_done(world: World) -> None:
    """Review 4 (F4): whatever leaves a clone's pull unrecorded, the clone does not say "Cloned" (exit 0)."""
    from test_multidevice import make_pair

    make_pair(world)
    c = world.device("tablet")
    patch = """
    import fog.sync.pull as p
    p.pull = lambda ctx, **kw: p.PullResult(ctx.remote_name)
    """
    args = ["clone", world.remote, c.root, "--master-key-file", world.key]
    r = run_fog(args, home=c.home, cwd=world.tmp, expect=1, patch=patch)
    assert "unfinished clone" in r.error_line() and "Cloned" not in r.out, str(r)
    run_fog(args, home=c.home, cwd=world.tmp)  # the same command again finishes it
    assert (c.root / "doc.txt").read_text() == "base version\n"


def test_a_name_removed_and_added_again_for_another_store_starts_afresh(world: World) -> None:
    from test_multidevice import make_pair

    a, b = make_pair(world)
    r2, r3 = world.tmp / "r2", world.tmp / "r3"
    a.fog("remote", "add", "backup", r2)
    a.fog("push")
    b.fog("sync")  # B learns backup = r2 and publishes there
    a.fog("remote", "remove", "backup")
    a.fog("remote", "add", "backup", r3)
    a.write("after.txt", "x\n", mtime_ns=OLD_MTIME_NS)
    assert set(a.fog("push", "--json").json()["batches"]) == {"origin", "backup"}
    a.fog("pull")
    b.fog("sync")
    b.fog("sync")
    assert (b.root / "after.txt").read_text() == "x\n"
    assert_complete(world, a, r3, "backup")


def test_two_devices_adding_one_name_for_two_stores_converge(world: World) -> None:
    from test_multidevice import make_pair

    a, b = make_pair(world)
    a.fog("remote", "add", "backup", world.tmp / "ra")
    b.fog("remote", "add", "backup", world.tmp / "rb")
    a.fog("push")
    b.fog("push")
    for _ in range(2):
        a.fog("sync")
        b.fog("sync")
    winner = _remotes(a)["backup"]["url"]
    assert _remotes(b)["backup"]["url"] == winner
    assert_complete(world, a, Path(winner), "backup")


def test_skip_then_unskip_publishes_only_what_was_made_meanwhile(world: World) -> None:
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    _big(a, {"one.txt": 10})
    a.fog("push")
    a.fog("remote", "skip", "usb")
    a.write("two.txt", "2\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    a.fog("remote", "unskip", "usb")
    assert _remotes(a)["usb"]["pending"] == 1
    a.fog("push")
    assert_complete(world, a, usb, "usb")


HOSTILE = """
import json, time
from pathlib import Path
from fog.backends.base import open_backend
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.store import Remote
ident = Identity.load(Path({home!r}))
cfg = ident.cached_config()
shares = json.loads(json.dumps(cfg.shares))
sid = next(iter(shares))
shares[sid]["remotes"] = {value}
Remote(open_backend({url!r})).put_config(ident, SyncConfig(cfg.user, cfg.devices, shares, ()))
"""


@pytest.mark.parametrize(
    "value",
    [
        '["x"]',
        '{"evil": "x"}',
        '{"evil": {"url": 5, "updated": 1, "removed": 0}}',
        '{"origin": {"url": "/x", "updated": "zzz", "removed": 0}}',
        '{"../../x": {"url": "/x", "updated": 1, "removed": 0}}',
    ],
)
def test_a_malformed_remotes_entry_is_refused_in_one_line(world: World, value: str) -> None:
    """A buggy trusted device's SyncConfig version: an integrity failure naming it, never a crash."""
    import subprocess
    import sys

    a = _init(world)
    code = HOSTILE.format(home=str(a.home), url=str(world.remote), value=value)
    subprocess.run([sys.executable, "-c", code], check=True)
    r = a.fog("pull", expect=4)
    assert "fog settings version" in r.error_line()


@pytest.mark.parametrize("value", ["null", '{"origin": 5}', '{"origin": {"skip": "no"}}'])
def test_a_damaged_local_remotes_is_one_line(world: World, value: str) -> None:
    import json

    a = _init(world)
    path = a.root / ".fog" / "config.json"
    doc = json.loads(path.read_text())
    doc["local_remotes"] = json.loads(value)
    path.write_text(json.dumps(doc))
    r = a.fog("push", expect=1)
    assert "config.json is unreadable" in r.error_line()


def test_versions_of_a_device_that_never_syncs_again_reach_a_new_remote(world: World) -> None:
    """B pushes and retires; A adds a remote before it pulled B's push: A relays B's versions."""
    from test_multidevice import make_pair

    a, b = make_pair(world)
    b.write("b.txt", "from the retired laptop\n", mtime_ns=OLD_MTIME_NS)
    b.fog("push")
    backup = world.tmp / "backup"
    a.fog("remote", "add", "backup", backup)
    a.fog("sync")
    a.fog("sync")
    assert _remotes(a)["backup"]["pending"] == 0
    assert_complete(world, a, backup, "backup")


def test_removing_the_remote_another_device_alone_reads_reaches_it(world: World) -> None:
    """B skips usb and reads only origin; A removes origin: B learns it (the removal is published on
    origin too), and since origin is the only remote B uses, B says so instead of going silent."""
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.fog("pull")
    b.fog("remote", "skip", "usb")
    r = b.fog("remote", "remove", "origin", expect=1)
    assert "only remote this device uses" in r.error_line()
    a.fog("remote", "remove", "origin")
    r = b.fog("pull", expect=1)
    assert "origin" in r.err and "unskip" in r.err
    b.fog("remote", "unskip", "usb")
    b.fog("pull")
    assert set(_remotes(b)) == {"usb"}
    b.write("late.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    b.fog("sync")
    a.fog("sync")
    assert (a.root / "late.txt").read_text() == "b\n"


def test_a_remote_removed_while_it_is_down_gets_the_removal_when_it_is_back(world: World) -> None:
    """Review 4 (F8): `remote remove usb` while usb was down exited 0 and never put the removal there, so B,
    which reads only usb, never learnt it: A and B then synced apart for good, exit 0 everywhere. The remover
    says so (exit 1) and delivers the removal with its next push, pull or sync that reaches usb."""
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb, away = world.tmp / "usb", world.tmp / "usb-away"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.fog("pull")
    b.fog("remote", "skip", "origin")  # B reaches only usb
    usb.rename(away)
    r = a.fog("remote", "remove", "usb", expect=1)
    assert len(r.err.strip().splitlines()) == 1 and "usb is unreachable" in r.err, str(r)
    assert "next push, pull or sync" in r.err, str(r)
    assert "usb" not in _remotes(a)
    a.fog("push")  # usb still down: best effort, the push is not held up
    away.rename(usb)
    a.fog("pull")  # delivers it
    r = b.fog("sync", expect=1)  # B is told: usb was the only remote it used
    assert "unskip" in r.err, str(r)
    b.fog("remote", "unskip", "origin")
    b.write("late.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    b.fog("sync")
    a.fog("sync")
    assert (a.root / "late.txt").read_text() == "b\n"


def test_removing_a_remote_again_stops_delivering_its_removal(world: World) -> None:
    """A disk lost for good: its removal waits to be delivered there, tried by every push, pull and sync
    for ever. `remote remove` of that name again stops it."""
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    shutil.rmtree(usb)
    a.fog("remote", "remove", "usb", expect=1)  # usb is unreachable: its removal waits to be delivered
    a.fog("remote", "remove", "usb")  # again: stop trying
    a.fog("sync", patch="import fog.sync.remotes as R\nR.deliver_config = lambda *a: exit(7)\n")  # (7: it tried)
    a.fog("remote", "remove", "usb", expect=1)  # no such remote now


def test_a_url_changed_while_the_old_one_is_down_reaches_it_later(world: World) -> None:
    """Review 4 (F8), `set-url`: B reads only usb; usb is down, its data copied to usb2, A moves usb there. A
    delivers the new URL to the old place when it is back, and B's next sync follows it, pulling from usb2
    in that same run."""
    import shutil as sh

    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb, away, usb2 = world.tmp / "usb", world.tmp / "usb-away", world.tmp / "usb2"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.fog("pull")
    b.fog("remote", "skip", "origin")
    usb.rename(away)
    sh.copytree(away, usb2)
    r = a.fog("remote", "set-url", "usb", usb2, expect=1)
    assert "usb is unreachable" in r.error_line() and str(usb) in r.error_line(), str(r)
    a.write("new.txt", "a\n", mtime_ns=OLD_MTIME_NS)
    a.fog("sync")
    away.rename(usb)
    a.fog("sync")  # delivers it to the old place
    b.write("fromb.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    b.fog("sync")
    assert (b.root / "new.txt").read_text() == "a\n"
    assert _remotes(b)["usb"]["url"] == str(usb2)
    a.fog("pull")
    assert (a.root / "fromb.txt").read_text() == "b\n"


def test_a_url_changed_for_everyone_is_published_at_the_new_url_too(world: World) -> None:
    import shutil as sh

    from test_multidevice import make_pair

    a, b = make_pair(world)
    r2, r3 = world.tmp / "r2", world.tmp / "r3"
    a.fog("remote", "add", "r2", r2)
    a.fog("push")
    sh.copytree(r2, r3)  # the disk was copied to a new place
    a.fog("remote", "set-url", "r2", r3)
    c = world.device("tablet")
    run_fog(["clone", r3, c.root, "--master-key-file", world.key], home=c.home, cwd=world.tmp)
    assert _remotes(c)["r2"]["url"] == str(r3)  # r3 itself says where r2 is now


@pytest.mark.parametrize("how", ["moved", "removed"])
def test_a_remote_moved_or_removed_elsewhere_is_followed_by_the_first_pull(world: World, how: str) -> None:
    """README: a `remote set-url` (or `remote remove`) on one device reaches every other device at its next
    `pull`. The first pull failed on the old URL (exit 1) and only the second used the new one; a removed
    remote was reported gone and failed in the same run. The pull follows the SyncConfig it reads."""
    from test_multidevice import make_pair

    a, b = make_pair(world)
    usb, moved = world.tmp / "usb", world.tmp / "usb-moved"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    b.fog("pull")
    usb.rename(moved)  # the disk moved (or went away for good)
    if how == "moved":
        r = a.fog("remote", "set-url", "usb", moved, expect=1)
    else:
        r = a.fog("remote", "remove", "usb", expect=1)
    assert "usb is unreachable" in r.error_line()  # (done; the old place gets it if it comes back)
    a.write("new.txt", "new\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    doc = b.fog("pull", "--json").json()
    assert doc["remote_errors"] == {}, doc
    assert (b.root / "new.txt").read_text() == "new\n"
    remotes = _remotes(b)
    if how == "moved":
        assert remotes["usb"]["url"] == str(moved)
    else:
        assert "usb" not in remotes


def test_set_url_local_keeps_what_was_read_there(world: World) -> None:
    """--local says: the same store, reached another way here. A copy rolled back is still caught."""
    import shutil as sh

    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.write("one.txt", "1\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    old = world.tmp / "usb-old"
    sh.copytree(usb, old)  # a stale copy of the disk
    a.write("two.txt", "2\n", mtime_ns=OLD_MTIME_NS)
    a.fog("push")
    a.fog("remote", "set-url", "usb", old, "--local")
    r = a.fog("pull", expect=4)
    assert "rolled back" in r.err


def test_interrupted_json_is_one_json_line(world: World) -> None:
    import json
    import signal
    import subprocess
    import sys
    import time

    from test_multidevice import fog_env

    a = _init(world)
    _big(a, {"big.bin": 200 * MiB})
    proc = subprocess.Popen(
        [sys.executable, "-m", "fog", "-C", str(a.root), "push", "--json"],
        env=fog_env(a.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # well into the push: it has read 64 MB
        try:
            io = dict(line.split(": ") for line in open(f"/proc/{proc.pid}/io").read().splitlines())
        except OSError:
            break
        if int(io.get("rchar", "0")) >= 64 << 20:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and out == b""
    assert json.loads(err.decode().strip()) == {"code": 130, "kind": "interrupted", "message": "interrupted"}


def test_check_of_a_lagging_remote_is_a_note_not_an_integrity_failure(world: World) -> None:
    """A remote that failed part-way is behind, not damaged: check says so and exits 0."""
    a = _init(world)
    usb = world.tmp / "usb"
    a.fog("remote", "add", "usb", usb)
    a.fog("push")
    _big(a, {"two.bin": 20 * MiB})
    a.fog("push", expect=1, patch=FAIL_AFTER.format(target="usb", after=1))
    doc = a.fog("check", "usb", "--json").json()
    assert doc["ok"] and any("wait to be published" in n for n in doc["notes"]), doc
    a.fog("push")
    doc = a.fog("check", "usb", "--read-data", "--json").json()
    assert doc["ok"] and not any("wait to be published" in n for n in doc["notes"])
