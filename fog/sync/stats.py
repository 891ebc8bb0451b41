"""stats: what a remote stores, and how much of it the history still needs.

Two pure steps over data gathered through the store, so `fog stats` stays
cheap and read-only: `history_refs` walks every version's manifest tree once
(nodes are small; a single-block file needs no read) into which objects the
current versions reference and which only old ones do; `usage` then weighs a
remote's objects by their stored lengths, taken from pack indexes (the local
pack catalog, plus the headers of packs it does not know yet). `fog check`
counts unreferenced bytes with the same `usage`.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field

from fog import cancel
from fog.errors import IntegrityError, ObjectNotFound, RemoteError
from fog.format.manifest import ManifestNode
from fog.format.pack import PackIndex, header_size
from fog.format.version import Version
from fog.store import ShareStore
from fog.sync.replicate import read_node

TOP_PATHS = 10  # the largest histories reported

NodeReader = Callable[[bytes, int, str], ManifestNode]  # (node id, level, path) -> node


@dataclass
class Refs:
    """What the history references, computed once for every remote."""

    current: set[bytes] = field(default_factory=set)  # objects of current versions (heads of live paths)
    old: set[bytes] = field(default_factory=set)  # objects only versions that are not current reference
    blocks: dict[bytes, int] = field(default_factory=dict)  # block id -> plaintext length
    by_path: dict[str, set[bytes]] = field(default_factory=dict)  # every object of all of a path's versions
    versions_by_path: dict[str, int] = field(default_factory=dict)
    versions: int = 0
    live_paths: int = 0
    deleted_paths: int = 0
    current_logical_bytes: int = 0  # sum of the sizes of the current files
    logical_bytes: int = 0  # sum of the sizes of every version of every file
    unreadable: list[str] = field(default_factory=list)  # manifest nodes no remote gave: their subtrees unknown

    @property
    def referenced(self) -> set[bytes]:
        return self.current | self.old

    @property
    def unique_bytes(self) -> int:
        """Plaintext bytes of the distinct blocks the history references (after dedupe)."""
        return sum(self.blocks.values())


def history_refs(versions: Iterable[Version], heads: Mapping[str, Version], read_node: NodeReader) -> Refs:
    """Which objects the versions reference, split into current and old; each counted once.

    A node's subtree is read once per path (its children are cached), so a
    block that many versions share costs one entry, not one per version."""
    refs = Refs()
    current_ids = {v.id for v in heads.values() if not v.deleted}
    refs.live_paths = len(current_ids)
    children: dict[bytes, tuple[tuple[bytes, int], ...]] = {}
    for v in versions:
        cancel.check()
        refs.versions += 1
        refs.versions_by_path[v.path] = refs.versions_by_path.get(v.path, 0) + 1
        objects = refs.by_path.setdefault(v.path, set())
        if v.kind == "file":
            refs.logical_bytes += v.size
            if v.id in current_ids:
                refs.current_logical_bytes += v.size
        if v.content is None:
            continue
        mine = _tree(v, refs, children, read_node, objects)
        if v.id in current_ids:
            refs.current |= mine
    refs.deleted_paths = len(refs.by_path) - refs.live_paths
    for objects in refs.by_path.values():
        refs.old.update(o for o in objects if o not in refs.current)
    return refs


def _tree(
    v: Version,
    refs: Refs,
    children: dict[bytes, tuple[tuple[bytes, int], ...]],
    read_node: NodeReader,
    known: set[bytes],
) -> set[bytes]:
    """Every object of one version's tree; `known` (the path's objects so far) is extended."""
    assert v.content is not None
    out: set[bytes] = set()
    stack = [(v.content, v.depth, v.size)]
    while stack:
        object_id, depth, size = stack.pop()
        out.add(object_id)
        known.add(object_id)
        if depth == 0:
            refs.blocks[object_id] = size
            continue
        entries = children.get(object_id)
        if entries is None:
            try:
                entries = read_node(object_id, depth - 1, v.path).entries
            except (IntegrityError, RemoteError) as exc:
                refs.unreadable.append(str(exc))
                entries = ()
            children[object_id] = entries
        stack.extend((child, depth - 1, n) for child, n in entries)
    return out


@dataclass
class Usage:
    """How one remote's stored bytes divide between what the history references and what it does not."""

    packs: int = 0
    pack_bytes: int = 0  # headers included
    unreadable_packs: int = 0  # listed, but whose header did not open: their size is unknown
    loose_objects: int = 0
    loose_bytes: int = 0
    objects: int = 0  # distinct objects held
    current_bytes: int = 0  # every stored copy of an object a current version references
    old_bytes: int = 0  # ... of an object only old versions reference
    unreferenced_bytes: int = 0  # whole unreferenced packs (headers included) and unreferenced objects
    unreferenced_packs: int = 0  # packs no version references any object of
    unreferenced_objects: int = 0  # objects no version references (in whole unreferenced packs too)
    overhead_bytes: int = 0  # headers of packs that hold referenced objects
    missing_objects: int = 0  # referenced, but not on this remote

    @property
    def stored_bytes(self) -> int:
        return self.pack_bytes + self.loose_bytes


def pack_size(index: PackIndex) -> int:
    """A pack's length in bytes: writers end it with its last object (docs/FORMAT.md, section 5)."""
    return max((offset + length for _, offset, length in index), default=header_size(0))


def usage(
    packs: Mapping[bytes, PackIndex | None],
    loose: Mapping[bytes, int],
    current: Container[bytes],
    referenced: Container[bytes] | None = None,
) -> Usage:
    """Weigh a remote's packs (None: header unreadable) and loose objects (id -> stored length).

    `referenced` is every object the history names, `current` those of current
    versions (check passes the same set twice: it does not tell them apart)."""
    referenced = current if referenced is None else referenced
    u = Usage()
    held: set[bytes] = set()
    for index in packs.values():
        u.packs += 1
        if index is None:
            u.unreadable_packs += 1
            continue
        size = pack_size(index)
        u.pack_bytes += size
        used = False
        for object_id, _, length in index:
            held.add(object_id)
            if object_id in current:
                u.current_bytes += length
                used = True
            elif object_id in referenced:
                u.old_bytes += length
                used = True
            else:
                u.unreferenced_bytes += length
                u.unreferenced_objects += 1
        header = size - sum(length for _, _, length in index)
        if used:
            u.overhead_bytes += header
        else:
            u.unreferenced_packs += 1
            u.unreferenced_bytes += header
    for object_id, length in loose.items():
        u.loose_objects += 1
        u.loose_bytes += length
        held.add(object_id)
        if object_id in current:
            u.current_bytes += length
        elif object_id in referenced:
            u.old_bytes += length
        else:
            u.unreferenced_bytes += length
            u.unreferenced_objects += 1
    u.objects = len(held)
    return u


# -- per remote ----------------------------------------------------------------------------


@dataclass
class PathStats:
    path: str
    versions: int
    bytes: int  # stored bytes of the distinct objects of all its versions, on this remote


@dataclass
class RemoteStats:
    """What `fog stats` reports for one remote."""

    remote: str
    url: str
    stored_bytes: int
    packs: int
    pack_bytes: int
    unreadable_packs: int
    loose_objects: int
    loose_bytes: int
    objects: int
    current_bytes: int
    old_bytes: int
    unreferenced_bytes: int
    unreferenced_packs: int
    unreferenced_objects: int
    overhead_bytes: int
    missing_objects: int
    compression_ratio: float | None  # plaintext / stored bytes of the referenced blocks held here
    largest: list[PathStats]
    waiting_versions: int = 0  # queued here by this device, not published yet (a lagging remote)


def remote_packs(store: ShareStore) -> dict[bytes, PackIndex | None]:
    """Every pack listed on the remote (one listing) with its index: from the catalog, else its header.

    Headers read here are learnt in memory only (like `scan_packs`); nothing is written to the remote."""
    out: dict[bytes, PackIndex | None] = {}
    for pack_id in store.list_packs():
        cancel.check()
        index = store.catalog.index(pack_id)
        if index is None:
            try:
                index = store.read_index(pack_id)
                store.catalog.add(index)
            except (IntegrityError, ObjectNotFound):
                index = None  # (check reports it)
        out[pack_id] = index
    return out


def loose_sizes(store: ShareStore) -> dict[bytes, int]:
    """Stored length of each loose (format-1) object: a listing carries no sizes, so each is read."""
    out: dict[bytes, int] = {}
    for object_id in store.list_objects():
        cancel.check()
        try:
            out[object_id] = len(store.get_loose(object_id))
        except ObjectNotFound:
            continue
    return out


def remote_stats(name: str, store: ShareStore, refs: Refs) -> RemoteStats:
    """One remote's usage, weighed against the history's references."""
    packs = remote_packs(store)
    loose = loose_sizes(store)
    referenced = refs.referenced
    u = usage(packs, loose, refs.current, referenced)
    sizes: dict[bytes, int] = dict(loose)
    for index in packs.values():
        for object_id, _, length in index or ():
            sizes.setdefault(object_id, length)
    u.missing_objects = sum(1 for o in referenced if o not in sizes)
    plain = stored = 0
    for block, n in refs.blocks.items():
        if block in sizes:
            plain += n
            stored += sizes[block]
    largest = sorted(
        (
            PathStats(path, refs.versions_by_path[path], sum(sizes.get(o, 0) for o in objects))
            for path, objects in refs.by_path.items()
        ),
        key=lambda p: (-p.bytes, p.path),
    )[:TOP_PATHS]
    return RemoteStats(
        remote=name,
        url=store.backend.url,
        stored_bytes=u.stored_bytes,
        packs=u.packs,
        pack_bytes=u.pack_bytes,
        unreadable_packs=u.unreadable_packs,
        loose_objects=u.loose_objects,
        loose_bytes=u.loose_bytes,
        objects=u.objects,
        current_bytes=u.current_bytes,
        old_bytes=u.old_bytes,
        unreferenced_bytes=u.unreferenced_bytes,
        unreferenced_packs=u.unreferenced_packs,
        unreferenced_objects=u.unreferenced_objects,
        overhead_bytes=u.overhead_bytes,
        missing_objects=u.missing_objects,
        compression_ratio=round(plain / stored, 3) if stored else None,
        largest=[p for p in largest if p.bytes],
    )


# -- the share -------------------------------------------------------------------------------


@dataclass
class StatsResult:
    """`fog stats`: the history (this device's), and per remote what it stores."""

    versions: int
    paths: int
    live_paths: int
    deleted_paths: int
    current_logical_bytes: int
    logical_bytes: int
    unique_bytes: int
    dedupe_ratio: float | None  # logical bytes of every version / unique_bytes
    remotes: list[RemoteStats]
    failed: dict[str, str]  # remote -> why it could not be read
    unreadable: list[str]  # manifest nodes no remote gave (their subtrees are not counted)


def share_stats(
    stores: Mapping[str, ShareStore], versions: Iterable[Version], heads: Mapping[str, Version]
) -> StatsResult:
    """Walk the history once (nodes read from any of the remotes), then weigh each remote."""
    readers = list(stores.values())
    refs = history_refs(versions, heads, lambda node, level, path: read_node(readers, node, level, path))
    failed: dict[str, str] = {}
    remotes: list[RemoteStats] = []
    for name, store in stores.items():
        try:
            remotes.append(remote_stats(name, store, refs))
        except RemoteError as exc:
            failed[name] = str(exc)
    unique = refs.unique_bytes
    return StatsResult(
        versions=refs.versions,
        paths=len(refs.by_path),
        live_paths=refs.live_paths,
        deleted_paths=refs.deleted_paths,
        current_logical_bytes=refs.current_logical_bytes,
        logical_bytes=refs.logical_bytes,
        unique_bytes=unique,
        dedupe_ratio=round(refs.logical_bytes / unique, 3) if unique else None,
        remotes=remotes,
        failed=failed,
        unreadable=refs.unreadable,
    )
