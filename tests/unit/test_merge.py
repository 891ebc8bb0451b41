"""fog.sync.merge: what a pull does to one path, as a pure function of versions."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as hs

from fog.format.version import Version
from fog.sync.merge import CONFLICT_RE, Plan, conflict_name, conflict_version, plan_path, same_state

T0 = 1_700_000_000_000_000_000


def ver(
    name: str,
    parent: Version | None = None,
    *,
    t: int = 0,
    content: str | None = None,
    device: str = "dev-a",
    kind: str = "file",
    path: str = "doc.txt",
) -> Version:
    """A version whose id is derived from `name`; its state from `content` (default: name)."""
    body = (content if content is not None else name).encode()
    root = hashlib.sha256(body).digest() if kind == "file" else None
    size = len(body) if kind == "file" else 0
    return Version(
        path,
        kind,
        size,
        0o644 if kind == "file" else 0,
        T0 + t,
        T0 + t,
        device,
        parent=parent.id if parent else None,
        content=root,
        id=hashlib.sha256(b"id:" + name.encode()).digest(),
    )


BASE = ver("base")


def known(*versions: Version) -> Callable[[bytes], Version | None]:
    """A device's lookup over the versions it knows."""
    by_id = {v.id: v for v in versions}
    return by_id.get


def is_ancestor(a: bytes, v: Version, lookup: Callable[[bytes], Version | None]) -> bool:
    cur: Version | None = v
    while cur is not None:
        if cur.id == a:
            return True
        cur = lookup(cur.parent) if cur.parent else None
    return False


def plan(
    head: Version | None,
    incoming: list[Version],
    *,
    history: tuple[Version, ...] = (BASE,),
    dirty: bool = False,
    local: Version | None = None,
) -> Plan:
    """plan_path on a device knowing head, incoming and `history`; `local` is what the working file holds."""
    everything = (*history, *incoming, *([head] if head else []))
    matches = (lambda v: local is not None and (v.content, v.kind) == (local.content, local.kind)) if dirty else None
    return plan_path("doc.txt", head, incoming, known(*everything), dirty, matches or (lambda v: False))


# -- plan_path -------------------------------------------------------------------------------------


def test_fast_forward() -> None:
    v = ver("b1", BASE, t=10)
    p = plan(BASE, [v])
    assert (p.head, p.write, p.conflicts, p.kept_local, p.adopt_local) == (v, v, [], False, False)


def test_fast_forward_over_several_versions_and_first_sight() -> None:
    v1 = ver("b1", BASE, t=10)
    v2 = ver("b2", v1, t=20)
    p = plan(BASE, [v2, v1])
    assert (p.head, p.write, p.conflicts) == (v2, v2, [])
    p = plan(None, [v1, BASE, v2])  # a new device sees the whole chain: no conflict with itself
    assert (p.head, p.write, p.conflicts) == (v2, v2, [])


def test_old_news_changes_nothing() -> None:
    v1 = ver("b1", BASE, t=10)
    v2 = ver("b2", v1, t=20)
    p = plan(v2, [v1, BASE])
    assert (p.head, p.write, p.conflicts, p.kept_local) == (v2, None, [], False)


def test_concurrent_newer_incoming_wins_and_local_goes_aside() -> None:
    mine = ver("mine", BASE, t=10, device="laptop")
    theirs = ver("theirs", BASE, t=20, device="desktop")
    p = plan(mine, [theirs])
    assert (p.head, p.write, p.conflicts) == (theirs, theirs, [mine])


def test_concurrent_older_incoming_becomes_the_conflict_copy() -> None:
    mine = ver("mine", BASE, t=30, device="laptop")
    theirs = ver("theirs", BASE, t=20, device="desktop")
    p = plan(mine, [theirs])
    assert (p.head, p.write, p.conflicts) == (mine, None, [theirs])


def test_concurrent_winner_is_the_same_on_both_sides() -> None:
    for ta, tb in ((10, 20), (20, 10), (15, 15)):  # equal times: the id decides
        a = ver("from-a", BASE, t=ta, device="laptop")
        b = ver("from-b", BASE, t=tb, device="desktop")
        on_a, on_b = plan(a, [b]), plan(b, [a])
        assert on_a.head == on_b.head
        loser = b if on_a.head == a else a
        assert on_a.conflicts == [loser] == on_b.conflicts  # the loser goes aside on both
        assert plan(BASE, [a, b]).head == on_a.head == plan(BASE, [b, a]).head  # a third device


def test_same_state_concurrent_is_no_conflict() -> None:
    a = ver("from-a", BASE, t=10, content="same words", device="laptop")
    b = ver("from-b", BASE, t=20, content="same words", device="desktop")
    for p in (plan(a, [b]), plan(b, [a]), plan(BASE, [a, b])):
        assert p.conflicts == [] and not p.kept_local
        assert p.head == b  # still one deterministic head


def test_independently_created_same_file_is_no_conflict() -> None:
    a = ver("new-a", None, t=10, content="hello", device="laptop")
    b = ver("new-b", None, t=20, content="hello", device="desktop")
    assert plan(a, [b]).conflicts == [] == plan(b, [a]).conflicts


def test_local_dirty_is_kept_and_incoming_goes_aside() -> None:
    v = ver("b1", BASE, t=10)
    edit = ver("local-edit", BASE, t=5)
    p = plan(BASE, [v], dirty=True, local=edit)
    assert p.kept_local and p.write is None and not p.adopt_local
    assert p.head == v  # the local edit is pushed on top of it later
    assert p.conflicts == [v]


def test_local_dirty_with_concurrent_versions_keeps_every_other_state() -> None:
    a = ver("from-a", BASE, t=10, device="laptop")
    b = ver("from-b", BASE, t=20, device="desktop")
    edit = ver("local-edit", BASE, t=5)
    p = plan(BASE, [a, b], dirty=True, local=edit)
    assert p.kept_local and p.write is None
    assert sorted(v.id for v in p.conflicts) == sorted([a.id, b.id])


def test_local_already_holding_the_incoming_state_is_adopted() -> None:
    v = ver("b1", BASE, t=10, content="typed the same")
    p = plan(BASE, [v], dirty=True, local=ver("x", content="typed the same"))
    assert p.adopt_local and not p.kept_local and p.write is None and p.conflicts == []


def test_deletion_applies_when_clean_and_is_set_aside_when_dirty() -> None:
    gone = ver("gone", BASE, t=10, kind="deleted")
    p = plan(BASE, [gone])
    assert (p.head, p.write, p.conflicts) == (gone, gone, [])
    p = plan(BASE, [gone], dirty=True, local=ver("edit", content="kept"))
    assert p.kept_local and p.write is None and p.conflicts == []  # nothing to copy: the file stays


def test_concurrent_deletion_and_edit() -> None:
    edit = ver("edit", BASE, t=10, device="laptop")
    gone = ver("gone", BASE, t=20, kind="deleted", device="desktop")
    p = plan(edit, [gone])
    assert p.head == gone and p.write == gone
    assert p.conflicts == [edit]  # the edit survives beside the deleted name
    p = plan(gone, [edit])
    assert p.head == gone and p.write is None and p.conflicts == [edit]


# -- conflict_name ---------------------------------------------------------------------------------

STAMP_NS = int(datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC).timestamp()) * 10**9 + 999


def named(path: str, device: str = "desktop") -> str:
    return conflict_name(path, replace(ver("x", path=path), time_ns=STAMP_NS), device)


def test_conflict_name_keeps_directory_and_extension() -> None:
    assert named("doc.txt") == "doc.fog-conflict-20210304-050607-desktop.txt"
    assert named("a/b/report.final.pdf") == "a/b/report.final.fog-conflict-20210304-050607-desktop.pdf"


def test_conflict_name_of_dotfiles_and_names_without_extension() -> None:
    assert named(".bashrc") == ".bashrc.fog-conflict-20210304-050607-desktop"
    assert named("etc/.profile") == "etc/.profile.fog-conflict-20210304-050607-desktop"
    assert named("Makefile") == "Makefile.fog-conflict-20210304-050607-desktop"
    assert named("dir.d/README") == "dir.d/README.fog-conflict-20210304-050607-desktop"


def test_conflict_name_sanitizes_the_device_name() -> None:
    name = named("doc.txt", "Jo's laptop/2")
    assert "/" not in name.rpartition("doc.")[2] and " " not in name
    assert name.startswith("doc.fog-conflict-20210304-050607-") and name.endswith(".txt")
    assert named("doc.txt", "") == "doc.fog-conflict-20210304-050607-device.txt"
    for n in (name, named(".bashrc"), named("Makefile")):
        assert CONFLICT_RE.search(n.rsplit("/", 1)[-1])


# -- conflict_version ------------------------------------------------------------------------------


def test_conflict_version_is_the_same_on_every_device() -> None:
    """Only the loser and the copy's name go in: two devices writing the copy record one version."""
    mine = ver("mine", BASE, t=10, device="laptop")
    theirs = ver("theirs", BASE, t=20, device="desktop")
    loser = plan(mine, [theirs]).conflicts[0]
    assert loser == plan(theirs, [mine]).conflicts[0]
    name = conflict_name("doc.txt", loser, "laptop")
    on_a, on_b = conflict_version(loser, name), conflict_version(loser, name)
    assert on_a == on_b and on_a.canonical() == on_b.canonical()
    assert (on_a.path, on_a.parent, on_a.conflict) == (name, None, True)
    assert (on_a.device, on_a.time_ns, on_a.mtime_ns) == (loser.device, loser.time_ns, loser.mtime_ns)
    assert same_state(on_a, loser)


def test_conflict_version_of_a_link() -> None:
    link = Version("ln", "link", 3, 0o777, T0, T0 + 5, "dev-a", parent=BASE.id, target="a/b")
    v = conflict_version(link, "ln.fog-conflict-20231114-221320-dev-a")
    assert (v.kind, v.target, v.size, v.mode, v.parent, v.conflict) == ("link", "a/b", 3, 0o777, None, True)


# -- convergence -------------------------------------------------------------------------------------


@hs.composite
def histories(draw: hs.DrawFn) -> tuple[list[Version], list[list[list[Version]]]]:
    """A DAG of versions of one path and several causal delivery schedules of it.

    Times are small and may go backwards along a parent link (device clocks
    disagree); states repeat (identical edits); some versions are deletions.
    """
    n = draw(hs.integers(1, 8))
    versions: list[Version] = []
    for i in range(n):
        parent = draw(hs.one_of(hs.none(), hs.sampled_from(versions))) if versions else None
        kind = draw(hs.sampled_from(["file", "file", "file", "deleted"]))
        v = ver(
            f"v{i}-{draw(hs.integers(0, 3))}",  # the suffix varies which id wins a time tie
            parent,
            t=draw(hs.integers(0, 4)),
            content=f"state {draw(hs.integers(0, 2))}",
            device=f"dev-{draw(hs.integers(0, 2))}",
            kind=kind,
        )
        versions.append(v)
    schedules = []
    for _ in range(3):
        order = causal_order(versions, draw(hs.permutations(range(n))))
        cuts = sorted(draw(hs.sets(hs.integers(1, max(1, n - 1)), max_size=n)))
        bounds = [0, *[c for c in cuts if c < n], n]
        schedules.append([order[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a])
    return versions, schedules


def causal_order(versions: list[Version], priority: list[int]) -> list[Version]:
    """A topological order (parents first) that otherwise follows `priority`."""
    done: set[bytes] = set()
    out: list[Version] = []
    pending = [versions[i] for i in priority]
    while pending:
        v = next(v for v in pending if v.parent is None or v.parent in done)
        pending.remove(v)
        done.add(v.id)
        out.append(v)
    return out


def deliver(schedule: list[list[Version]]) -> Version | None:
    """One device pulling each chunk in turn; returns its final head."""
    head: Version | None = None
    seen: list[Version] = []
    for chunk in schedule:
        seen += chunk
        p = plan_path("doc.txt", head, list(chunk), known(*seen), False, lambda v: False)
        assert p.head is not None
        head = p.head
    return head


@settings(max_examples=200, deadline=None)
@given(histories())
def test_heads_converge_whatever_the_delivery_order(case: tuple[list[Version], list[list[list[Version]]]]) -> None:
    versions, schedules = case
    heads = [deliver(s) for s in schedules]
    everything = deliver([versions])
    assert all(h == everything for h in heads), [h.id.hex()[:6] if h else None for h in heads]
    # the head is never a version that another known version supersedes
    assert everything is not None
    lookup = known(*versions)
    assert not any(v.id != everything.id and is_ancestor(everything.id, v, lookup) for v in versions)


@given(histories(), hs.integers(0, 7))
def test_the_first_sight_shortcut_plans_what_the_general_case_plans(
    case: tuple[list[Version], list[list[list[Version]]]], pick: int
) -> None:
    """plan_path skips ranking for one incoming version of a path new here; the general case must agree."""
    from fog.sync import merge

    versions, _ = case
    v = versions[pick % len(versions)]
    lookup = known(*versions)  # whatever else this device knows of the path's history
    fast = plan_path(v.path, None, [v], lookup, False, lambda _: False)
    general = merge._plan_general(v.path, None, [v], lookup, False, lambda _: False)
    assert fast == general
    assert fast.write == v and fast.head == v


# -- history order (fog.repo.history.newest_first) agrees with the merge ---------------------------------


def test_newest_first_puts_the_merges_head_first_under_a_future_dated_parent() -> None:
    """Review 6 F3: P dated 2 h ahead (a clock ahead), then two concurrent edits of it, clocks right, one a
    second after the other. Both rank 1 ns past P (effective time): the larger id wins the path. The
    history listed the later by the clock first, so `fog log` marked (current) on its second line and
    `fog restore PATH` / `fog cat PATH` (no REV) took the conflict loser. Every id order is tried."""
    from fog.repo.history import newest_first

    hour = 3600 * 10**9
    for n in range(64):
        parent = ver(f"p{n}", t=2 * hour)
        early = ver(f"a{n}", parent, t=0, content="edit by A")
        late = ver(f"b{n}", parent, t=10**9, content="edit by B")
        versions = [parent, early, late]
        for schedule in ([[parent], [early], [late]], [[parent], [late], [early]], [versions]):
            head = deliver(schedule)
            assert head is not None
            order = newest_first(versions)
            assert order[0].id == head.id == max(early, late, key=lambda v: v.id).id
            assert order[2] == parent


@settings(max_examples=300, deadline=None)
@given(histories())
def test_newest_first_is_the_merges_order(case: tuple[list[Version], list[list[list[Version]]]]) -> None:
    """The history's order is Ranks' (newest first), so its first version is the head every delivery order
    ends at, and a version always comes before the one it was made from."""
    from fog.repo.history import newest_first
    from fog.sync.merge import Ranks

    versions, schedules = case
    order = newest_first(list(versions))
    assert order == sorted(versions, key=Ranks(known(*versions)).key, reverse=True)
    assert all(deliver(s) == order[0] for s in schedules)
    at = {v.id: i for i, v in enumerate(order)}
    assert all(at[v.id] < at[v.parent] for v in versions if v.parent is not None)


def test_conflict_name_fits_name_max_and_cuts_on_characters() -> None:
    for stem in ("x" * 300, "é" * 200, "日本" * 60 + "x"):
        name = named(f"dir/{stem}.txt", "d" * 100)
        base = name.rpartition("/")[2]
        assert name.startswith("dir/") and len(base.encode()) <= 255
        assert base.endswith(".txt") and "-" + "d" * 40 + ".txt" in base
        assert stem.startswith(base.partition(".fog-conflict-")[0])  # a prefix of whole characters
    short = named("doc.txt")
    assert short == "doc.fog-conflict-20210304-050607-desktop.txt"  # unchanged when it fits
