"""check --repair: put back what a remote lost or holds damaged, from intact copies only.

It only adds: each missing or corrupt object that history references is read
from another remote of the share (or the local archive), verified against its
HMAC name, and packed anew for the damaged remote; what no remote holds is
looked for in the working tree, by chunking the files whose history names it
(a block's id is the HMAC of its bytes, so what is found is exactly what was
lost). Nothing is ever deleted: a corrupt pack stays (readers skip the bad
copy and use the new one; prune reclaims it).
"""

from __future__ import annotations

import os
from pathlib import Path

from fog.store import Packer, PutStats
from fog.sync import replicate
from fog.sync.check import CheckResult
from fog.sync.content import FileReader
from fog.sync.context import Context


class _Collector:
    """Quacks like ShareStore.put for FileReader: keeps the blocks and nodes that are wanted."""

    def __init__(self, mac, wanted: set[bytes]) -> None:  # type: ignore[no-untyped-def]
        self.mac, self.wanted = mac, wanted
        self.found: dict[bytes, bytes] = {}

    def put(self, data: bytes | memoryview, stats: PutStats | None = None) -> bytes:
        object_id = self.mac(data)
        if object_id in self.wanted and object_id not in self.found:
            self.found[object_id] = bytes(data)
        return object_id


def repair(ctx: Context, others: list[Context], result: CheckResult) -> None:
    """Re-upload every object `check` found missing or corrupt on ctx's remote (see module doc)."""
    todo = sorted(result.damaged)
    for other in others:
        if not todo:
            break
        stats, todo = replicate.copy_objects(ctx.store, todo, result.paths, [other.store])
        if stats.objects:
            result.repaired_from[other.remote_name] = stats.objects
            result.repaired += stats.objects
    if todo:
        found = _from_tree(ctx, set(todo), result.paths)
        if found:
            packer = Packer(ctx.store.keys.pack_key, ctx.store.put_pack, limit=ctx.store.max_object)
            for object_id, data in found.items():
                packer.add(object_id, ctx.store.encode(object_id, data))
            packer.flush()
            result.repaired_from["working tree"] = len(found)
            result.repaired += len(found)
            todo = [oid for oid in todo if oid not in found]
    if result.repaired:
        ctx.store.backend.sync()
        with ctx.share.db.write() as txn:
            ctx.commit_presence(txn)
    result.unrepaired = [f"object {oid.hex()[:16]} of {result.paths.get(oid, '?')}" for oid in todo]
    fixed = {f"object {oid.hex()[:16]}" for oid in result.damaged.difference(todo)}
    result.problems = [p for p in result.problems if not any(p.startswith(f) for f in fixed)]


def _from_tree(ctx: Context, wanted: set[bytes], paths: dict[bytes, str]) -> dict[bytes, bytes]:
    """Chunk the working files that history says hold the wanted objects; keep those found."""
    collector = _Collector(ctx.keys.mac, wanted)
    reader = FileReader(ctx.keys, collector)  # type: ignore[arg-type]
    for rel in sorted({paths[oid] for oid in wanted if oid in paths}):
        full = Path(ctx.share.root, rel)
        try:
            st = os.lstat(full)
            if not os.path.isfile(full) or os.path.islink(full):
                continue
            reader.read(str(full), st, PutStats())
        except OSError:
            continue
        if len(collector.found) == len(wanted):
            break
    return collector.found
