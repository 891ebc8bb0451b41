"""fog prune: two-phase deletion of unreferenced packs on a real local-directory remote.

Devices run fog in their own processes (test_multidevice helpers). Packs no
batch names are made the way users make them: a push killed after its
uploads and before it recorded anything.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_multidevice import OLD_MTIME_NS, ONLY_KEEP_LAST, Device, Run, World, make_pair


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


KILL_BEFORE_RECORD = """
import fog.sync.push as _p
def _die(*a, **k):
    raise SystemExit(9)
_p._commit = _die
"""


def packs(world: World) -> set[str]:
    return {p.name for p in world.remote.glob("shares/*/packs/*/*") if p.is_file()}


def orphan(dev: Device, rel: str, size: int = 400_000, seed: int = 1) -> set[str]:
    """Packs on the remote that no batch names: a push killed before recording, then the file removed."""
    before = packs(dev.world)
    dev.write(rel, random.Random(seed).randbytes(size), mtime_ns=OLD_MTIME_NS)
    dev.fog("push", expect=9, patch=KILL_BEFORE_RECORD)
    (dev.root / rel).unlink()
    made = packs(dev.world) - before
    assert made
    return made


def clone_matches(world: World, src: Device, name: str) -> Device:
    c = world.clone(name)
    assert c.tree() == src.tree()
    c.fog("check", "--read-data")
    return c


def test_grace_zero_deletes_orphaned_packs_at_once(world: World) -> None:
    a, b = make_pair(world)
    gone = orphan(a, "big.bin")
    kept = packs(world) - gone
    dry = a.fog("prune", "--dry-run", "--json").json()
    assert {p for r in dry["remotes"] for p in r["planned_delete"]} == gone
    assert packs(world) == kept | gone  # a dry run writes nothing
    assert not list(world.remote.glob("shares/*/prune/*"))
    (world.remote / "fog-store").write_bytes(b"fog-store 2\n")  # as an older fog left it
    doc = a.fog("prune", "--grace", "0", "--json").json()
    (r,) = doc["remotes"]
    assert set(r["deleted"]) == gone and not r["kept"]
    assert packs(world) == kept
    assert (world.remote / "fog-store").read_bytes() == b"fog-store 4\n"  # pruned (3), signed records (4)
    a.fog("check", "--read-data")
    b.pull()
    b.write("more.txt", "after the prune\n")
    b.fog("sync")
    a.pull()
    clone_matches(world, a, "phone")


def test_intent_waits_for_every_device_and_the_grace_period(world: World) -> None:
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    gone = orphan(a, "big.bin")
    first = a.fog("prune", "--grace", "2s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == gone and first["intent"]
    assert not first["deleted"]
    assert packs(world) >= gone
    again = a.fog("prune", "--grace", "2s", "--json").json()["remotes"][0]
    assert not again["deleted"]
    assert any("desktop" in w and "acknowledge" in w for w in again["waiting"]), again["waiting"]
    b.fog("sync")  # nothing to push: an acknowledgement alone
    time.sleep(2.1)
    done = a.fog("prune", "--grace", "2s", "--json").json()["remotes"][0]
    assert set(done["deleted"]) == gone, done
    assert packs(world).isdisjoint(gone)
    a.fog("check", "--read-data")
    a.pull()
    clone_matches(world, a, "phone")


SKIP_OBSERVE_AT_START = """
import fog.sync.push as _p
_calls = {"n": 0}
_real = _p.prune.observe
def _late(ctx):
    _calls["n"] += 1
    return 0 if _calls["n"] == 1 else _real(ctx)  # the intent appears right after this push started
_p.prune.observe = _late
"""


def test_push_that_deduped_against_a_condemned_pack_keeps_it(world: World) -> None:
    """B's push decided an object was present (in a pack an intent then condemned) and named it."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    a.pull()
    data = random.Random(5).randbytes(300_000)
    made = orphan(b, "x.bin", seed=5)  # B's killed push: its presence cache holds these objects
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made
    b.write("x.bin", data, mtime_ns=OLD_MTIME_NS)  # the same content again: B dedupes against its old pack
    b.fog("push", patch=SKIP_OBSERVE_AT_START)
    time.sleep(1.1)
    waiting = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert not waiting["deleted"]  # B's batch did not acknowledge: it decided before it knew
    b.fog("sync")  # acknowledges now
    done = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(done["kept"]) & made, done  # referenced again by B's batch: kept
    a.pull()
    assert (a.root / "x.bin").read_bytes() == data
    a.fog("check", "--read-data")
    clone_matches(world, a, "phone")


def test_push_after_an_intent_uploads_again_instead_of_deduping(world: World) -> None:
    a, b = make_pair(world)
    data = random.Random(6).randbytes(300_000)
    made = orphan(a, "x.bin", seed=6)
    a.fog("prune", "--grace", "1h")
    a.write("x.bin", data, mtime_ns=OLD_MTIME_NS)
    out = a.fog("push", "--json").json()
    assert out["bytes_uploaded"] >= 300_000  # not deduped against the condemned pack
    a.fog("prune", "--grace", "0")
    assert packs(world).isdisjoint(made)
    b.pull()
    assert (b.root / "x.bin").read_bytes() == data
    clone_matches(world, a, "phone")


def test_dry_run_on_a_clean_remote_plans_nothing(world: World) -> None:
    a, _ = make_pair(world)
    r = a.fog("prune", "--dry-run", "--json").json()["remotes"][0]
    assert not r["planned_delete"] and not r["planned_repack"] and r["unused_bytes"] == 0
    (world.remote / "fog-store").write_bytes(b"fog-store 2\n")  # as an older fog left it
    assert "nothing to prune" in a.fog("prune", "--grace", "0").out
    assert (world.remote / "fog-store").read_bytes() == b"fog-store 2\n"  # nothing pruned: format unchanged


PAUSE_BEFORE_BATCH = """
import os as _os, time as _time
import fog.store as _s
_put = _s.ShareStore.publish_batch
def _slow(self, *a, **k):
    open(REACHED, "w").close()
    while not _os.path.exists(GO):
        _time.sleep(0.05)
    return _put(self, *a, **k)
_s.ShareStore.publish_batch = _slow
"""


@contextlib.contextmanager
def paused(dev: Device, args: list[str], pause_code: str, tmp_path: Path) -> Iterator[dict[str, Run]]:
    """Run `fog ARGS` on `dev` in the background until its `pause_code` (which opens the file REACHED
    and waits for GO) pauses it; the caller's block runs during the pause, then the run finishes.
    The run's result is under "run" of the yielded dict afterwards."""
    reached, go = tmp_path / "reached", tmp_path / "go"
    code = f"REACHED, GO = {str(reached)!r}, {str(go)!r}\n" + pause_code
    out: dict[str, Run] = {}
    runner = threading.Thread(target=lambda: out.setdefault("run", dev.fog(*args, patch=code, expect=None)))
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while not reached.exists():
            assert time.monotonic() < deadline and runner.is_alive(), out
            time.sleep(0.05)
        yield out
    finally:
        go.touch()
        runner.join()


def test_a_batch_in_flight_is_waited_for(world: World, tmp_path: Path) -> None:
    """A push that deduped before the intent and publishes after the collection began must not lose data.

    The collector cannot see a batch not yet written: only the writer's
    acknowledgement (which comes after it in its log) makes deleting safe."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    data = random.Random(8).randbytes(300_000)
    made = orphan(b, "x.bin", seed=8)
    b.write("x.bin", data, mtime_ns=OLD_MTIME_NS)
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made
    with paused(b, ["push"], SKIP_OBSERVE_AT_START + PAUSE_BEFORE_BATCH, tmp_path) as pushed:
        time.sleep(1.1)
        during = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
        assert not during["deleted"], during  # desktop has not acknowledged: its batch may be in flight
    assert pushed["run"].rc == 0, pushed["run"]
    b.fog("sync")
    a.fog("prune", "--grace", "1s")
    a.pull()
    assert (a.root / "x.bin").read_bytes() == data
    a.fog("check", "--read-data")
    clone_matches(world, a, "phone")


SOON = """
import fog.api as _api, fog.sync.prune as _prune
_api.TRIM_EVERY_NS = 0
_prune.DEFAULT_GRACE_S = 1
"""


def test_sync_prune_trims_at_most_once_a_day_with_the_share_policy(world: World) -> None:
    a, b = make_pair(world)
    for n in range(5):
        a.write("f.bin", random.Random(n).randbytes(100_000), mtime_ns=OLD_MTIME_NS + n)
        a.fog("push")
    a.fog("policy", "set", "--keep-last", "1", *ONLY_KEEP_LAST)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    before = packs(world)
    first = a.fog("sync", "--prune", "--json").json()["trim"]
    assert first["forget"]["versions"] == 4 and first["forget"]["policy"] == "share"
    (r,) = first["prune"]["remotes"]
    assert r["intent"] and len(r["planned_delete"]) == 4 and not r["deleted"]  # the default grace: a day
    assert a.fog("sync", "--prune", "--json").json()["trim"] is None  # not due again today
    assert packs(world) == before
    b.fog("sync")  # pulls the forgets, acknowledges the intent
    assert len(b.fog("log", "f.bin", "--json").json()) == 1
    time.sleep(1.1)
    later = a.fog("sync", "--prune", "--json", patch=SOON).json()["trim"]
    assert set(later["prune"]["remotes"][0]["deleted"]) == set(r["planned_delete"])
    assert len(packs(world)) == len(before) - 4
    a.fog("check", "--read-data")
    assert "Nothing to forget" in a.fog("sync", "--prune", patch=SOON).out
    c = clone_matches(world, a, "phone")
    assert len(c.fog("log", "f.bin", "--json").json()) == 1


def test_check_repair_while_an_intent_is_open_does_not_count_its_packs_present(world: World) -> None:
    """A check --repair reads every pack header and records what it found present: never the
    objects of a pack an open intent condemns (the pull's case: test_prune_review.py). Else, once
    the pack was collected, the next push deduplicated against it and named objects no longer there."""
    a, b = make_pair(world)
    b.write("b.txt", "b has a log\n")
    b.fog("sync")
    data = random.Random(9).randbytes(300_000)
    made = orphan(b, "x.bin", size=300_000, seed=9)
    b.fog("sync")  # resumes: the orphaned pack's objects count as present here
    first = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(first["planned_delete"]) == made
    b.fog("sync")  # observes the intent (its objects no longer count as present) and acknowledges it
    b.write("b2.txt", "packed alone\n")
    before = packs(world)
    b.fog("sync")
    (damaged,) = packs(world) - before
    next(world.remote.glob(f"shares/*/packs/*/{damaged}")).unlink()
    r = b.fog("check", "--repair", "--json").json()
    assert r["repaired_from"] == {"working tree": 1}
    time.sleep(1.1)
    done = a.fog("prune", "--grace", "1s", "--json").json()["remotes"][0]
    assert set(done["deleted"]) == made, done
    b.write("x-again.bin", data, mtime_ns=OLD_MTIME_NS)
    out = b.fog("push", "--json").json()
    assert out["bytes_uploaded"] >= 300_000  # uploaded again: nothing deduplicated against the deleted pack
    a.fog("sync")
    assert (a.root / "x-again.bin").read_bytes() == data
    clone_matches(world, a, "phone")
