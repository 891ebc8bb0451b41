"""Retention over time (review 5, angle "retention"): far durations, prune --dry-run, a clock that was
ahead, a version another device forgot and pruned, the hour DST repeats.

Each test runs fog processes per device; `patch` shifts a process's clock (time.time_ns and
time.time, what fog stamps versions, intents and "now" with) or sets its time zone.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_multidevice import ONLY_KEEP_LAST, Device, World, shifted

DAY = 86400


def at(moment_ns: int, tz: str) -> str:
    """Patch code: the fog process's clock at `moment_ns` (a fixed time), in time zone `tz`."""
    return f"""
import os, time
time.time_ns = lambda: {moment_ns}
time.time = lambda: {moment_ns} / 1e9
os.environ['TZ'] = {tz!r}
time.tzset()
"""


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def packs(world: World) -> set[str]:
    return {p.name for p in world.remote.glob("shares/*/packs/*/*") if p.is_file()}


def three_versions(a: Device, name: str = "big.bin") -> None:
    rng = random.Random(5)
    for _ in range(3):
        a.write(name, rng.randbytes(100_000))
        a.fog("push", "-q")


# -- R1 ----------------------------------------------------------------------------------------


def test_a_huge_keep_deleted_in_the_shares_policy_breaks_no_forget_nor_trim(world: World) -> None:
    """9999999999y was accepted and published; then every device's forget and `sync --prune` failed at every
    run ("Value too large for defined data type") while formatting "deleted, kept until <time>". Typed, it is
    refused (exit 2); written by another fog into the SyncConfig, it reads as 1000y."""
    a = world.init("laptop")
    a.write("g.txt", "g\n")
    a.fog("push", "-q")
    (a.root / "g.txt").unlink()
    a.fog("push", "-q")
    b = world.clone("desktop")
    # a fog without the bound (an older one, another implementation) publishes it
    lift = "import fog.cli.policy_opts as _o\n_o.MAX_DURATION_S = 10**30\n"
    a.fog("policy", "set", "--keep-deleted", "9999999999y", patch=lift)
    b.fog("sync", "--quiet", "--prune")
    out = b.fog("forget", "-n", "--json").json()
    assert out["forgotten"] == []
    a.fog("forget", "-n")
    assert "1000y" in b.fog("policy", "show").out
    r = a.fog("policy", "set", "--keep-deleted", "9999999999y", expect=2)
    assert "the longest duration fog takes is 1000y" in r.err
    a.fog("forget", "-n", "--keep-deleted", "999999999999y", expect=2)


# -- R2 ----------------------------------------------------------------------------------------


def test_prune_dry_run_shows_what_the_collection_of_a_ready_intent_deletes(world: World) -> None:
    """`prune -n` said "nothing to prune" (and `waiting: []`) while the real run right after deleted 3 packs."""
    a = world.init("laptop")
    rng = random.Random(3)
    for _ in range(4):
        a.write("big.bin", rng.randbytes(200_000))
        a.fog("push", "-q")
    a.fog("forget", "--keep-last", "1")
    first = a.fog("prune", "--json").json()["remotes"][0]
    condemned = set(first["planned_delete"])
    assert first["intent"] and len(condemned) == 3
    early = a.fog("prune", "-n", "--json").json()["remotes"][0]
    assert early["deleted"] == [] and len(early["waiting"]) == 1 and "grace period ends in" in early["waiting"][0]
    before = packs(world)
    later = shifted(25 * 3600)
    dry = a.fog("prune", "-n", "--json", patch=later).json()["remotes"][0]
    assert set(dry["deleted"]) == condemned and dry["dry_run"] and dry["deleted_bytes"] > 500_000
    assert "would delete 3 pack(s)" in a.fog("prune", "-n", patch=later).out
    assert packs(world) == before  # nothing written
    real = a.fog("prune", "--json", patch=later).json()["remotes"][0]
    assert set(real["deleted"]) == condemned and real["deleted_bytes"] == dry["deleted_bytes"]


# -- R3 ----------------------------------------------------------------------------------------


def test_a_trim_run_while_the_clock_was_ahead_does_not_stop_trimming(world: World) -> None:
    """One `sync --prune` a year ahead stopped every later trim for a year, silently under --quiet."""
    a = world.init("laptop")
    a.fog("policy", "set", "--keep-last", "1", *ONLY_KEEP_LAST)
    a.write("f.txt", "v1\n")
    a.fog("push", "-q")
    a.fog("sync", "--quiet", "--prune", patch=shifted(365 * DAY))
    a.write("f.txt", "v2\n")
    r = a.fog("sync", "--quiet", "--prune")
    a.write("f.txt", "v3\n")
    a.fog("sync", "--quiet", "--prune", patch=shifted(DAY))
    assert len(a.fog("log", "f.txt", "--json").json()) == 1
    assert "ahead of the clock" in r.err and r.out == ""  # said, under --quiet too


def test_an_intent_first_seen_while_the_clock_was_ahead_waits_one_grace_period(world: World) -> None:
    """An intent first seen at clock+1y waited 364 days ("grace period ends in 364.0 d")."""
    a = world.init("laptop")
    three_versions(a)
    a.fog("forget", "--keep-last", "1")
    made = a.fog("prune", "--json", patch=shifted(365 * DAY)).json()["remotes"][0]
    assert made["intent"]
    r = a.fog("prune", patch=shifted(2 * DAY))
    assert "grace period ends in 1.0 d" in r.out and "ahead of the clock" in r.err
    done = a.fog("prune", "--json", patch=shifted(3 * DAY + 3600)).json()["remotes"][0]
    assert set(done["deleted"]) == set(made["planned_delete"]) and done["deleted"]


# -- R4 ----------------------------------------------------------------------------------------


def test_a_version_another_device_forgot_and_pruned_says_so_not_exit_4(world: World, tmp_path: Path) -> None:
    """B (no pull since) restored a version A forgot and pruned: exit 4, the tamper alarm, while
    `fog check` on B said "no problems". Now exit 1, naming the forget; a missing object no forget
    explains is still exit 4."""
    a = world.init("laptop")
    three_versions(a)
    b = world.clone("desktop")
    a.fog("forget", "--keep-last", "1")
    a.fog("prune")
    assert a.fog("prune", "--json", patch=shifted(25 * 3600)).json()["remotes"][0]["deleted"]
    for args in (
        ["restore", "big.bin@~1", "-o", str(tmp_path / "old.bin")],
        ["cat", "big.bin@~1"],
        ["diff", "big.bin@~1"],
        ["restore", ".@~1", "-o", str(tmp_path / "tree")],  # (review 6 trees T6: these three said exit 4)
        ["restore", ".@~1", "--force"],
        ["diff", "-p", ".@~1"],
    ):
        r = b.fog(*args, expect=1)
        assert "this version was forgotten by laptop" in r.err and "fog pull" in r.err, r
    from fog.mount import open_fs
    from fog.sync.forgotten import ForgottenVersion

    with open_fs(b.home, b.root) as fs:  # the mount's read fails (EIO) with that line, not "missing from remote"
        kept = fs.lookup("current/big.bin")
        names = fs.listdir("versions/big.bin")
        assert len(names) == 3
        for name in names:
            e = fs.lookup(f"versions/big.bin/{name}")
            if e.version == kept.version:
                assert len(fs.read(e, 0, 10)) == 10
                continue
            with pytest.raises(ForgottenVersion, match="forgotten by laptop"):  # the two forgotten
                fs.read(e, 0, 10)
    b.fog("check")
    for p in world.remote.glob("shares/*/packs/*/*"):
        p.unlink()  # damage: the current version's data is gone too, and no forget explains it
    b.fog("cat", "big.bin", expect=4)


# -- R5 ----------------------------------------------------------------------------------------

ONE_NS = 1_792_888_230 * 1_000_000_000  # 2026-10-25T00:30:30Z: 02:30:30 in Berlin, summer time (+02:00)
TWO_NS = ONE_NS + 3600 * 1_000_000_000  # 2026-10-25T01:30:30Z: 02:30:30 in Berlin again, winter time (+01:00)


def test_a_local_time_the_clock_showed_twice_names_one_version(world: World) -> None:
    """Both versions showed as 2026-10-25 02:30:30 and that time picked the first ("one") for both lines."""
    a = world.init("laptop")
    berlin = "Europe/Berlin"
    a.write("f.txt", "one\n")
    a.fog("push", "-q", patch=at(ONE_NS, berlin))
    a.write("f.txt", "two\n")
    a.fog("push", "-q", patch=at(TWO_NS, berlin))
    now = shifted(0, berlin)
    out = a.fog("log", "f.txt", patch=now).out
    assert "2026-10-25 02:30:30+01:00" in out and "2026-10-25 02:30:30+02:00" in out, out
    assert a.fog("cat", "f.txt@2026-10-25 02:30:30+02:00", patch=now).out == "one\n"
    assert a.fog("cat", "f.txt@2026-10-25 02:30:30+01:00", patch=now).out == "two\n"
    assert a.fog("cat", "f.txt@2026-10-25 02:30:30", patch=now).out == "two\n"  # the span ends at the later one
    assert "02:30:30+01:00" in a.fog("ls", "-l", ".@2026-10-25 02:30:30", patch=now).out
    utc = a.fog("log", "f.txt", patch=shifted(0, "UTC")).out
    assert "2026-10-25 00:30:30 " in utc and "+0" not in utc  # (no offset where a time names one moment)


# -- R9 ----------------------------------------------------------------------------------------


def test_a_deletion_from_a_device_whose_clock_is_behind_is_kept_for_keep_deleted(world: World) -> None:
    """B, its clock a year behind, deleted a file by mistake; A's next `sync --prune` (default policy,
    keep-deleted 90d) forgot the file's whole history: "deleted 365 days ago"."""
    a = world.init("laptop")
    a.write("thesis.odt", random.Random(9).randbytes(5000))
    a.fog("push", "-q")
    b = world.clone("desktop")
    (b.root / "thesis.odt").unlink()
    b.fog("sync", "-q", patch=shifted(-365 * DAY))
    a.fog("sync", "-q")
    a.fog("sync", "-q", "--prune")
    assert sorted(v["kind"] for v in a.fog("log", "thesis.odt", "--json").json()) == ["deleted", "file"]
    # (when it goes: tests/integration/test_retention_clock.py, with the trim's clock moving a week a run)


# -- R6 ----------------------------------------------------------------------------------------


def test_quiet_sync_prune_says_when_a_silent_device_has_held_deletions_for_two_grace_periods(world: World) -> None:
    """The cron job (`sync --quiet --prune`) said nothing, exit 0, while a lost device held every deletion
    back for months and the store only grew."""
    a = world.init("laptop")
    a.fog("policy", "set", "--keep-last", "1", *ONLY_KEEP_LAST)
    rng = random.Random(4)
    a.write("big.bin", rng.randbytes(50_000))
    a.fog("push", "-q")
    b = world.clone("desktop")
    b.write("b.txt", "b has a log\n")
    b.fog("push", "-q")  # then B is lost
    quiet = []
    for day in (1, 2, 3, 4):
        a.write("big.bin", rng.randbytes(50_000))
        quiet.append(a.fog("sync", "--quiet", "--prune", patch=shifted(day * DAY)))
    assert all(r.out == "" for r in quiet)
    assert quiet[0].err == "" and quiet[1].err == ""  # (within two grace periods: the usual wait)
    said = quiet[3].err.strip().splitlines()
    assert len(said) == 1, quiet[3]  # one line a remote, however many intents wait
    assert "waiting for desktop" in said[0] and "until then nothing is deleted" in said[0], said
