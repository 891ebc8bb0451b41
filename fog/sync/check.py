"""check: verify what a remote holds against what history references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fog.crypto.keys import device_log_name
from fog.errors import FogError, IntegrityError, RemoteError
from fog.sync.context import Context
from fog.sync.logs import read_log


@dataclass
class CheckResult:
    remote: str
    read_data: bool
    versions: int = 0
    batches: int = 0
    objects_referenced: int = 0
    objects_on_remote: int = 0
    objects_read: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(ctx: Context, *, read_data: bool = False, progress: Callable[[int, int], None] | None = None) -> CheckResult:
    """List every problem; never stops at the first."""
    result = CheckResult(ctx.remote_name, read_data)
    _check_config(ctx, result)
    _check_logs(ctx, result)
    referenced = _referenced(ctx, result)
    on_remote = set(ctx.store.list_objects())
    result.objects_referenced = len(referenced)
    result.objects_on_remote = len(on_remote)
    missing = set(referenced) - on_remote
    for object_id in sorted(missing):
        result.problems.append(f"object {object_id.hex()[:16]} of {referenced[object_id]} is missing from the remote")
    if missing:
        ctx.share.db.forget_present(ctx.remote_name, missing)  # so the next push uploads them again
    if read_data:
        total = len(on_remote)
        for n, object_id in enumerate(sorted(on_remote), 1):
            what = referenced.get(object_id, "")
            try:
                ctx.store.get(object_id, what)
                result.objects_read += 1
            except IntegrityError as exc:
                result.problems.append(str(exc))
                ctx.share.db.forget_present(ctx.remote_name, {object_id})
            if progress is not None:
                progress(n, total)
    return result


def _check_config(ctx: Context, result: CheckResult) -> None:
    try:
        config, _ = ctx.remote.load_config(ctx.ident.master_key)
        if config is None:
            result.problems.append("no SyncConfig for this user on the remote")
    except IntegrityError as exc:
        result.problems.append(str(exc))


def _check_logs(ctx: Context, result: CheckResult) -> None:
    config = ctx.ident.cached_config()
    devices = dict(config.devices) if config is not None else {}
    by_log = {device_log_name(ctx.keys.share_id, bytes.fromhex(d["public"])): (did, d) for did, d in devices.items()}
    for log, seqs in sorted(ctx.store.list_logs().items()):
        if log not in by_log:
            result.problems.append(f"log {log[:12]} on the remote belongs to no device in the SyncConfig")
            continue
        _, dev = by_log[log]
        try:
            for _ in read_log(
                ctx.store, ctx.ident.user_secret, bytes.fromhex(dev["public"]), log, dev["name"], (0, None), seqs
            ):
                result.batches += 1
        except IntegrityError as exc:
            result.problems.append(str(exc))
            continue
        seen, _ = ctx.share.db.cursor(ctx.remote_name, log)
        if seqs and seqs[-1] < seen or (not seqs and seen):
            result.problems.append(f"log of {dev['name']!r} was rolled back below batch {seen}")


def _referenced(ctx: Context, result: CheckResult) -> dict[bytes, str]:
    """Every object id history references, mapped to a path that uses it."""
    refs: dict[bytes, str] = {}
    for v in ctx.share.db.all_versions():
        result.versions += 1
        if v.content is None:
            continue

        def visit(object_id: bytes, depth: int, path: str = v.path) -> bool:
            if object_id in refs:
                return False
            refs[object_id] = path
            return True

        try:
            ctx.store.walk(v.content, v.depth, v.path, visit)
        except IntegrityError as exc:
            result.problems.append(str(exc))
        except RemoteError as exc:
            raise FogError(f"check stopped: {exc}") from exc
    return refs
