"""fog prune in a loop on one device while another pushes: no version the policy keeps loses a byte.

Issue 16 ("Measure and show"). Device A (laptop) runs `fog prune --grace 1s`
over and over, now and then writes one of its own files and syncs, or runs
`fog forget --keep-last 2`; device B (desktop) writes, deletes and re-creates
files, writes back content of earlier versions (forgotten ones too) and of
pushes that were killed, and runs `fog sync` or `fog push` (now and then
`fog prune` too: two pruners, or `fog forget --keep-last 2`). Both loops run
at once, every fog command in its own process on one local-directory remote,
and one command in five is killed with SIGKILL at a random moment.

Prune has real work: B's pushes stopped after their uploads leave packs no
batch names, and B's next push adopts them (its presence cache counts their
objects present); forgotten versions leave data no version needs. B writes
that content back while A condemns and deletes those packs: a prune that
deletes without the protocol (intent, acknowledgements, grace, a second
reading of the logs) loses it.

At the end (both synced, then prune runs, acknowledged in between, until
nothing is planned or waiting) a fresh clone C must pass `fog check
--read-data` with nothing missing, hold the same tree as A and B, list every
version A and B still list, and restore every file version it lists byte for
byte (`fog restore PATH@VERSION -o FILE`; every content written had its own
mtime, which the version records). No fog command may fail unless it was
killed, but for one known issue of pull, not of prune (`Model.tolerated`).

The last test runs the same scenario against a naive prune (plan, then delete
at once) and requires it to lose data: the scenario has teeth. Before forget
was merged, this test found a bug main fixed at the same time (regression
tests in test_prune_review.py and test_prune.py): a pull counted a condemned
pack's objects present again, and a push after the collection deduplicated
against the deleted pack (seed 2 lost data in every run).

A seed fixes each device's random stream (what to write, which command, when
to kill), not the interleaving, which is up to the scheduler as it is for
users (and the streams follow it a little: B picks among the contents A
wrote so far). FOG_TESTS_EXEC=1 runs each command as a fresh `python -m
fog` (about three times slower).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_multidevice import _MAIN, EXEC, FOG, INITIAL, OLD_MTIME_NS, Device, World, fog_env, fork_fog, make_pair
from test_prune import KILL_BEFORE_RECORD

# whole seconds: the shortest grace that waits, so collections happen within the test. Short is fine: the
# grace period only covers a device's first batch on a remote (FORMAT.md section 14, clock assumptions), and
# both devices have a log before the loops start; what keeps their data is the acknowledgements
GRACE = "1s"
B_ROUNDS = 40  # B's rounds of edits and a push; A prunes until B is done
KILL_P = 0.2  # the chance that a command is killed with SIGKILL
SEEDS = [2, 4, 7]
NAIVE_SEEDS = [1, 2, 3]  # the naive prune must lose data with one (it stops there): seeds 1 to 10 each did

# A naive prune: what the plan condemns is deleted at once. No intent is written, so no device
# is told; nothing waits for acknowledgements or a grace period; the logs are not read again.
NAIVE_PRUNE = """
import fog.sync.prune as _pr
from fog.errors import ObjectNotFound as _NotFound
class _NoIntent:
    id = None
def _delete_at_once(ctx, history, packs):
    for p in packs:
        try:
            ctx.store.backend.delete(ctx.store.pack_name(p))
        except _NotFound:
            pass
    ctx.store.backend.sync()
    return _NoIntent
_pr._announce = _delete_at_once
"""


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


# -- what happened ------------------------------------------------------------------------------------


@dataclass
class Model:
    """Every content written, by its mtime (unique, in whole seconds); what the devices did."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    by_mtime: dict[int, bytes] = field(default_factory=dict)
    hashes: set[str] = field(default_factory=set)
    orphaned: list[bytes] = field(default_factory=list)  # content only a killed push uploaded
    problems: list[str] = field(default_factory=list)  # commands that failed without being killed
    events: list[str] = field(default_factory=list)  # what each device did, for the failure message
    stop: threading.Event = field(default_factory=threading.Event)  # B is done, or something failed
    deleted_packs: int = 0
    deleted_while_pushing: int = 0  # of those, by the prunes that ran while B pushed
    kept_packs: int = 0  # condemned, then kept by a collection: referenced again
    pull_killed: set[str] = field(default_factory=set)  # devices a sync of which was killed
    conflicts: int = 0  # syncs that ended in a conflict after a killed pull (see `tolerated`)
    forgotten: int = 0  # versions `fog forget --keep-last 2` forgot
    kills: int = 0

    def write(self, dev: Device, rel: str, data: bytes) -> None:
        with self.lock:
            mtime_s = OLD_MTIME_NS // 10**9 + 10 * (len(self.by_mtime) + 1)
            self.by_mtime[mtime_s] = data
            self.hashes.add(hashlib.sha256(data).hexdigest())
        dev.write(rel, data, mtime_ns=mtime_s * 10**9)
        self.note(f"{dev.name}: wrote {rel} {hashlib.sha256(data).hexdigest()[:8]} ({len(data)} bytes)")

    def known(self, data: bytes) -> None:
        with self.lock:
            self.hashes.add(hashlib.sha256(data).hexdigest())

    def contents(self) -> list[bytes]:
        with self.lock:
            return list(self.by_mtime.values())

    def note(self, text: str) -> None:
        with self.lock:
            self.events.append(f"{time.monotonic():.3f} {text}")

    def tolerated(self, device: str, args: list[str], rc: int, output: str) -> bool:
        """A known pull issue, not prune's: a sync killed after its pull placed files and before it
        recorded them leaves files that the next sync takes for local edits if newer versions came
        meanwhile: a conflict (exit 3), and the old content published again as the head, which the
        other device's next sync meets as a conflict too. Nothing is lost: every version stays
        (test_multidevice.py: test_a_sync_after_a_pull_killed_before_recording_sees_no_local_edit)."""
        if not (args[0] == "sync" and rc == 3 and self.pull_killed and "Traceback" not in output):
            return False
        with self.lock:
            self.conflicts += 1
        self.note(f"{device}: sync -> 3: a conflict after a killed pull (the known pull issue)")
        return True

    def fail(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)
        self.stop.set()

    def report(self, *lines: str) -> str:
        return "\n".join([*lines, "--- what the devices did", *self.events])


def new_content(rng: random.Random) -> bytes:
    """One block (packed beside others), or several FastCDC blocks."""
    return rng.randbytes(rng.choice([rng.randrange(200, 4_000), rng.randrange(60_000, 260_000)]))


# -- fog processes that can be killed --------------------------------------------------------------------


def spawn(dev: Device, args: list[str], *, patch: str = "", kill_after: float | None = None) -> tuple[int, str, str]:
    """Run fog as dev in its own process; SIGKILL it after kill_after seconds if it still runs.

    (rc, stdout, stderr); rc is -9 when killed. The process is reaped only
    here, after any kill, so the signal can never reach a reused pid."""
    argv = ["-C", str(dev.root), *args]
    env = fog_env(dev.home)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if EXEC:
            prefix = [sys.executable, "-c", textwrap.dedent(patch) + _MAIN] if patch else FOG
            proc = subprocess.Popen(
                [*prefix, *argv], cwd=dev.world.tmp, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
            rc = _wait(proc.poll, proc.kill, kill_after)
        else:
            pid = fork_fog(argv, env, dev.world.tmp, textwrap.dedent(patch), out.fileno(), err.fileno())

            def poll() -> int | None:
                done, status = os.waitpid(pid, os.WNOHANG)
                return os.waitstatus_to_exitcode(status) if done else None

            rc = _wait(poll, lambda: os.kill(pid, signal.SIGKILL), kill_after)
        out.seek(0)
        err.seek(0)
        return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace")


def _wait(poll: Callable[[], int | None], kill: Callable[[], None], kill_after: float | None) -> int:
    start = time.monotonic()
    while (rc := poll()) is None:
        elapsed = time.monotonic() - start
        if kill_after is not None and elapsed >= kill_after:
            kill()
            kill_after = None
        if elapsed > 120:
            kill()
            kill_after = None
            raise AssertionError("a fog command ran for two minutes: killed")
        time.sleep(0.002)
    return rc


def command(model: Model, dev: Device, args: list[str], rng: random.Random, *, patch: str = "") -> str:
    """One fog command, killed now and then; its stdout ("" if killed). Any other failure stops the test."""
    kill_after = rng.uniform(0.0, 0.15) if rng.random() < KILL_P else None
    model.note(f"{dev.name}: {' '.join(args)} starts")
    rc, out, err = spawn(dev, args, patch=patch, kill_after=kill_after)
    if rc == -signal.SIGKILL:
        with model.lock:
            model.kills += 1
            if args[0] == "sync":
                model.pull_killed.add(dev.name)
        model.note(f"{dev.name}: {' '.join(args)} killed after {kill_after:.2f} s")
        return ""
    if model.tolerated(dev.name, args, rc, out + err):
        return out
    if rc != 0 or "Traceback" in out + err:
        model.fail(f"{dev.name}: fog {' '.join(args)} -> {rc}\n{out}{err}")
        return ""
    model.note(f"{dev.name}: {' '.join(args)} -> 0")
    return out


def prune(model: Model, dev: Device, rng: random.Random, patch: str) -> None:
    out = command(model, dev, ["prune", "--grace", GRACE, "--json"], rng, patch=patch)
    for r in json.loads(out)["remotes"] if out else []:
        with model.lock:
            model.deleted_packs += len(r["deleted"])
            model.kept_packs += len(r["kept"])
        what = {k: [p[:8] for p in r[k]] for k in ("planned_delete", "planned_repack", "deleted", "kept") if r[k]}
        model.note(f"{dev.name}: prune {what} intent {r['intent']} waiting {r['waiting']}")


def forget(model: Model, dev: Device, rng: random.Random) -> None:
    """Forget every version but the two newest of each path (published for every device): their data
    becomes prune's to delete while B may write the same content again."""
    out = command(model, dev, ["forget", "--keep-last", "2", "--json"], rng)
    if out:
        n = json.loads(out)["versions"]
        with model.lock:
            model.forgotten += n
        model.note(f"{dev.name}: forgot {n} version(s)")


# -- the two devices -------------------------------------------------------------------------------------------


def desktop(model: Model, b: Device, rng: random.Random, patch: str) -> None:
    """Write, delete, re-create; write back old and orphaned content; orphan packs; sync or push."""
    names = [f"b/f{i}.bin" for i in range(6)]
    for _ in range(B_ROUNDS):
        if model.stop.is_set():
            return
        for _ in range(rng.randint(1, 3)):
            rel = rng.choice(names)
            roll = rng.random()
            if roll < 0.2 and (b.root / rel).exists():
                (b.root / rel).unlink()
                model.note(f"desktop: deleted {rel}")
            elif roll < 0.5 or not model.orphaned:
                model.write(b, rel, new_content(rng))
            elif roll < 0.8:  # content that only a pack no batch names held (recently, or long ago)
                model.write(b, rel, rng.choice(model.orphaned[-4:] if rng.random() < 0.5 else model.orphaned))
            else:  # any earlier content: deduplicated against older packs
                model.write(b, rel, rng.choice(model.contents()))
        if rng.random() < 0.3:  # a push stopped after its uploads: packs no batch names
            rel = rng.choice(names)
            data = new_content(rng)
            model.write(b, rel, data)
            rc, out, err = spawn(b, ["push"], patch=KILL_BEFORE_RECORD)
            if rc != 9:
                model.fail(f"push stopped before recording -> {rc}\n{out}{err}")
            model.note(f"desktop: push stopped before recording {rel}")
            if rng.random() < 0.8:  # nothing will name it; the next push adopts the pack
                (b.root / rel).unlink()
                model.note(f"desktop: deleted {rel}")
                with model.lock:
                    model.orphaned.append(data)
        command(model, b, [rng.choice(["sync", "sync", "push"])], rng)
        roll = rng.random()
        if roll < 0.1:  # a second pruner
            prune(model, b, rng, patch)
        elif roll < 0.17:
            forget(model, b, rng)
        time.sleep(rng.uniform(0, 0.15))


def laptop(model: Model, a: Device, rng: random.Random, patch: str) -> None:
    """Prune over and over; now and then write a file of A's own and sync (B's pull then reads
    headers), or forget all but the two newest versions of each path."""
    while not model.stop.is_set():
        roll = rng.random()
        if roll < 0.3:
            old = rng.random() < 0.3
            model.write(a, f"a/g{rng.randrange(3)}.bin", rng.choice(model.contents()) if old else new_content(rng))
            command(model, a, ["sync"], rng)
        elif roll < 0.4:
            forget(model, a, rng)
        else:
            prune(model, a, rng, patch)
        time.sleep(rng.uniform(0.1, 0.6))


# -- the end --------------------------------------------------------------------------------------------------------


def settle(model: Model, a: Device, b: Device, patch: str) -> None:
    """Both synced; then prune, acknowledged in between, until nothing is planned or waiting."""
    for dev in (b, a, b):
        r = dev.fog("sync", expect=None)
        if r.rc != 0 and not model.tolerated(dev.name, ["sync"], r.rc, r.out + r.err):
            model.problems.append(f"final {r}")
    for _ in range(6):
        r = a.fog("prune", "--grace", GRACE, "--json", expect=None, patch=patch)
        if r.rc != 0:
            model.problems.append(f"final {r}")
            return
        (doc,) = r.json()["remotes"]
        model.deleted_packs += len(doc["deleted"])
        model.kept_packs += len(doc["kept"])
        model.note(f"laptop: final prune deleted {len(doc['deleted'])}, waiting {doc['waiting']}")
        if not (doc["planned_delete"] or doc["planned_repack"] or doc["waiting"]):
            break
        b.fog("sync", expect=None)  # acknowledges
        time.sleep(1.05)
    else:
        model.problems.append(f"prune still had work after 6 rounds: {doc}")
    for dev in (a, b, a):
        r = dev.fog("sync", expect=None)
        if r.rc != 0 and not model.tolerated(dev.name, ["sync"], r.rc, r.out + r.err):
            model.problems.append(f"final {r}")


def verify(model: Model, world: World, a: Device, b: Device) -> list[str]:
    """What a fresh clone finds wrong: missing objects, a different tree, versions that do not restore."""
    c = world.clone("phone", expect=None)
    if not (c.root / ".fog").is_dir():
        return ["the clone failed"]
    lost = []
    chk = c.fog("check", "--read-data", expect=None)
    if chk.rc != 0 or "missing" in chk.out + chk.err:
        lost.append(f"check --read-data on a fresh clone: {chk}")
    tb, tc = b.tree(), c.tree()
    if tc != tb:
        differ = sorted(k for k in tb.keys() | tc.keys() if tb.get(k) != tc.get(k))
        lost.append(f"the clone's tree differs from the desktop's at {differ}")
    if a.tree() != tb:
        lost.append("the laptop's tree differs from the desktop's")
    listed = c.fog("log", "--json").json()
    for dev in (a, b):
        absent = {e["version"] for e in dev.fog("log", "--json").json()} - {e["version"] for e in listed}
        if absent:
            lost.append(f"{len(absent)} version(s) the {dev.name} lists are not on the clone")
    out = world.tmp / "restored"
    restored = 0
    for e in listed:
        if e["kind"] != "file" or e["deleted"]:
            continue
        out.unlink(missing_ok=True)
        r = c.fog("restore", f"{e['path']}@{e['version']}", "-o", out, expect=None)
        if r.rc != 0:
            lost.append(f"restore {e['path']}@{e['version'][:12]}: {r}")
            continue
        data = out.read_bytes()
        want = model.by_mtime.get(calendar.timegm(time.strptime(e["mtime"], "%Y-%m-%dT%H:%M:%SZ")))
        if want is None:  # written by make_pair, or a conflict copy: some content written, whole
            ok = hashlib.sha256(data).hexdigest() in model.hashes
        else:
            ok = data == want
        if not ok or len(data) != e["size"]:
            lost.append(f"{e['path']}@{e['version'][:12]} restores {len(data)} bytes that were never written")
        restored += 1
    model.note(f"restored {restored} version(s) on a fresh clone")
    return lost


def scenario(world: World, seed: int, patch: str = "") -> tuple[Model, list[str]]:
    """A prunes (with `patch`) in a loop while B pushes; then settle, and what a fresh clone finds lost."""
    model = Model()
    a, b = make_pair(world)
    for data in INITIAL.values():
        model.known(data.encode() if isinstance(data, str) else data)
    model.write(b, "b/start.bin", b"b has a log\n")
    b.fog("sync")
    a.fog("sync")
    errors: list[BaseException] = []

    def run(loop: Callable[..., None], *args: Any) -> None:
        try:
            loop(*args)
        except BaseException as exc:  # re-raised by the test
            errors.append(exc)
        finally:
            model.stop.set()  # B is done (or something broke): A stops too

    threads = [
        threading.Thread(target=run, args=(desktop, model, b, random.Random(f"{seed}-desktop"), patch)),
        threading.Thread(target=run, args=(laptop, model, a, random.Random(f"{seed}-laptop"), patch)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    model.deleted_while_pushing = model.deleted_packs
    model.note(f"both loops are done: {model.deleted_packs} pack(s) deleted while B pushed")
    if model.problems:
        return model, []
    settle(model, a, b, patch)
    return model, verify(model, world, a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_prune_while_another_device_pushes_loses_nothing(world: World, seed: int) -> None:
    t0 = time.monotonic()
    model, lost = scenario(world, seed)
    summary = (
        f"seed {seed}: {time.monotonic() - t0:.1f} s, {model.kills} kill(s), {len(model.orphaned)} orphaned, "
        f"{model.deleted_packs} pack(s) deleted ({model.deleted_while_pushing} while B pushed), "
        f"{model.kept_packs} kept, {model.forgotten} version(s) forgotten, "
        f"{model.conflicts} conflict(s) after a killed pull; devices and remote under {world.tmp} "
        "(kept by pytest for its last few runs, or under --basetemp)"
    )
    print(summary)
    assert not model.problems, model.report(summary, *model.problems)
    assert not lost, model.report(summary, *lost)
    assert model.orphaned and model.deleted_packs > 0, summary  # prune had work, and collections happened


def test_a_naive_prune_loses_data_in_the_same_scenario(tmp_path: Path) -> None:
    """The scenario has teeth: a prune that deletes what its plan condemns at once loses data."""
    found = []
    for seed in NAIVE_SEEDS:
        root = tmp_path / f"seed-{seed}"
        root.mkdir()
        model, lost = scenario(World(root, root / "remote", root / "master.key"), seed, NAIVE_PRUNE)
        found = [p for p in model.problems if "missing" in p] + lost
        if found:
            break
    assert found, model.report("the naive prune lost nothing")
    print(f"seed {seed}: the naive prune lost data:", found[0].splitlines()[0:4])
