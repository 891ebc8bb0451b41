"""Making a remote complete: every object of the versions a batch will name, durably there.

The invariant (docs/FORMAT.md, section 11): a remote never holds a batch that
names an object it has not made durable. A push's own versions satisfy it by
construction (each object goes through the fan-out to every remote that
lacks it). Versions queued for a remote that missed them (it was down, it was
just added, the device just learned it) are checked here object by object:
the presence of a manifest node proves nothing about its subtree (a copied or
interrupted pack can hold a node without its children), so every tree is
walked to its leaves. What the remote lacks is read from another remote (or
the local archive), verified, and packed for this remote alone: a catch-up
sends exactly the missing objects, never a pack's worth of others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fog import cancel
from fog.errors import IntegrityError, ObjectNotFound, RemoteError
from fog.format.manifest import ManifestNode
from fog.format.version import Version
from fog.store import Packer, ShareStore
from fog.sync.logs import LogOwner, logs_by_name, read_log


@dataclass
class CopyStats:
    """What a catch-up or a repair sent to one remote."""

    objects: int = 0
    bytes: int = 0  # stored bytes put in new packs
    packs: int = 0


def tree_objects(
    versions: Iterable[Version], readers: list[ShareStore], seen: set[bytes] | None = None
) -> dict[bytes, str]:
    """Every object of the versions' trees (nodes and blocks) -> a path that uses it.

    Manifest nodes are read from the first reader that holds them intact.
    Objects in `seen` (and their subtrees) are skipped: the caller knows them.
    """
    seen = set() if seen is None else seen
    out: dict[bytes, str] = {}
    for v in versions:
        if v.content is None:
            continue
        stack = [(v.content, v.depth)]
        while stack:
            cancel.check()
            object_id, depth = stack.pop()
            if object_id in seen:
                continue
            seen.add(object_id)
            out[object_id] = v.path
            if depth > 0:
                node = read_node(readers, object_id, depth - 1, v.path)
                stack.extend((child, depth - 1) for child, _ in reversed(node.entries))
    return out


def read_node(readers: list[ShareStore], node_id: bytes, level: int, what: str) -> ManifestNode:
    """A manifest node from the first reader that holds it intact; else the first failure."""
    failure: Exception | None = None
    try:
        for store in readers:
            try:
                return store.node(node_id, level, what)
            except (IntegrityError, RemoteError) as exc:
                failure = failure or exc
        raise failure or IntegrityError(f"manifest {node_id.hex()[:16]} of {what}: no remote to read it from")
    finally:
        failure = None  # (else this frame and the exception's traceback hold each other: review 7, F3)


def lacking(store: ShareStore, objects: dict[bytes, str]) -> list[bytes]:
    """The objects `store`'s remote does not hold, by listing it once (packs and loose objects).

    Objects known present (presence cache) are trusted; for the others the
    remote's packs are listed and their headers learnt once (`scan_packs`),
    then loose objects are listed once.
    """
    unknown = [oid for oid in objects if not store.presence.known(oid)]
    if not unknown:
        return []
    store.scan_packs(confirm=True)
    unknown = [oid for oid in unknown if not store.presence.known(oid)]
    if unknown:
        loose = set(store.list_objects())
        unknown = [oid for oid in unknown if oid not in loose]
    return unknown


def copy_objects(
    target: ShareStore, wanted: list[bytes], paths: dict[bytes, str], sources: list[ShareStore]
) -> tuple[CopyStats, list[bytes]]:
    """Read each wanted object from the sources (verified) and pack it for `target`.

    Returns what was sent and the objects no source could give. Stored bytes
    are re-encoded from the verified plaintext: a damaged copy is never spread.
    """
    stats = CopyStats()

    def ship(data: bytes, index) -> None:  # type: ignore[no-untyped-def]
        target.put_pack(data, index)
        stats.packs += 1
        stats.bytes += len(data)

    packer = Packer(target.keys.pack_key, ship, limit=target.max_object)
    todo = list(wanted)
    for src in sources:
        if not todo:
            break
        left: list[bytes] = []
        for run in src.runs(todo):
            cancel.check()
            with src.preload(run):
                for object_id in run:
                    try:
                        data = src.get(object_id, paths.get(object_id, ""))
                    except (IntegrityError, ObjectNotFound, RemoteError):
                        left.append(object_id)
                        continue
                    packer.add(object_id, target.encode(object_id, data))
                    stats.objects += 1
        todo = left
    packer.flush()
    return stats, todo


@dataclass
class Held:
    """Versions a remote cannot be given yet: some object of theirs is on no reachable source."""

    ids: set[bytes]
    message: str


def complete(
    target: ShareStore, versions: list[Version], sources: list[ShareStore], remote_name: str
) -> tuple[CopyStats, Held | None]:
    """Make every object of `versions` present on `target`, copying what it lacks.

    Returns what was sent, and the versions that cannot be made complete (an
    object of theirs is on no source): they stay queued, and the others are
    published (a remote just added, whose only source is skipped here, still
    gets the new work).
    """
    if not any(v.content is not None for v in versions):
        return CopyStats(), None
    readers = [*sources, target]
    held: set[bytes] = set()
    why = ""
    try:
        objects = tree_objects(versions, readers)
    except IntegrityError:  # a manifest node no source holds intact: which versions need it (a failure path)
        objects = {}
        for v in versions:
            try:
                objects.update(tree_objects([v], readers))
            except IntegrityError as exc:
                held.add(v.id)
                why = why or str(exc)
    missing = lacking(target, objects)
    # the target last: a pack a prune intent condemns there still serves reads until it goes
    stats, lost = copy_objects(target, missing, objects, [*sources, target]) if missing else (CopyStats(), [])
    if lost:
        gone = set(lost)
        for v in versions:
            if v.id not in held and v.content is not None and gone & tree_objects([v], readers).keys():
                held.add(v.id)
        why = why or f"{len(lost)} object(s) of {objects[lost[0]]}, ... are on no reachable remote"
    if not held:
        return stats, None
    message = (
        f"cannot publish {len(held)} version(s) to {remote_name} yet ({why}); they stay queued until a remote "
        "that holds them is read here: plug it in (`fog remote unskip` it if it is skipped here, `fog remote add` "
        "it again if it was removed: its data stays in place) and run `fog push`"
    )
    return stats, Held(held, message)


def behind(versions: Sequence[Version], held: set[bytes]) -> set[bytes]:
    """Ids of the versions made (through their parents, transitively) from a held one.

    A version published before the one it was made from would reach a reader
    whose head is an older version of the path with a parent it cannot see:
    the merge takes them for concurrent edits and writes a conflict copy of
    the writer's own history (review 6, remotes R9). They wait behind it.
    """
    children: dict[bytes, list[bytes]] = {}
    for v in versions:
        if v.parent is not None:
            children.setdefault(v.parent, []).append(v.id)
    out: set[bytes] = set()
    stack = list(held)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in held and child not in out:
                out.add(child)
                stack.append(child)
    return out


def carried(
    store: ShareStore, user_secrets: Sequence[bytes], devices: dict[str, dict[str, Any]], own_log: str
) -> set[bytes]:
    """Ids of the versions other devices' logs on this remote already carry (accepted batches of verified logs only).

    Before a device's first batch on a remote, its queue for that remote holds
    every version it knows (a remote it added or learnt): what the remote
    already carries is dropped from it, so only the rest is published again.
    """
    by_log = logs_by_name(store.keys.share_id, devices)
    ids: set[bytes] = set()
    for log, seqs in store.list_logs().items():
        if log == own_log or log not in by_log:
            continue
        did, dev = by_log[log]
        try:
            for vb in read_log(store, user_secrets, LogOwner.of(did, dev), log, (0, None), seqs):
                ids.update(v.id for v in vb.batch.versions)
        except IntegrityError:
            continue  # a log that does not verify vouches for nothing
    return ids
