"""Why a version's data is missing: forgotten by another device, whose prune deleted it.

A device lists the versions its history holds until it reads the batch that
forgets them (FORMAT.md section 8, rule 7). Between another device's forget
and prune and this device's next pull, reading such a version finds objects
gone from the remote: not damage (exit 4 is the tamper alarm) but the
retention policy at work. `forgotten_by` reads the batches this device has not
read yet and says which of the given versions they forget, and who did.
"""

from __future__ import annotations

from collections.abc import Iterable

from fog import cancel
from fog.errors import FogError, IntegrityError, RemoteError
from fog.sync.context import Context
from fog.sync.logs import LogOwner, accepted_limit, accepted_pin, logs_by_name, read_log


class ForgottenVersion(FogError):
    """The version asked for was forgotten by another device and its data pruned (exit 1: run `fog pull`)."""


def forgotten_by(ctx: Context, ids: Iterable[bytes]) -> dict[bytes, tuple[str, int]]:
    """Version id -> (device name, batch number) for each of `ids` a batch on ctx's remote, past this
    device's cursor, forgets. Only verified batches of trusted devices count, within a revoked device's
    accepted limit (as prune counts them); a log that cannot be read says nothing (the caller's error stands)."""
    wanted = set(ids)
    out: dict[bytes, tuple[str, int]] = {}
    config = ctx.ident.cached_config()
    if not wanted or config is None:
        return out
    by_log = logs_by_name(ctx.keys.share_id, dict(config.devices))
    share_hex = ctx.keys.share_id.hex()
    db = ctx.share.db
    for log, seqs in sorted(ctx.store.list_logs().items()):
        cancel.check()
        if log not in by_log:
            continue
        did, dev = by_log[log]
        if not dev.get("trusted", True):
            continue
        owner = LogOwner.of(did, dev)
        limit = accepted_limit(dev, share_hex, ctx.remote_name)
        try:
            for vb in read_log(
                ctx.store,
                ctx.user_secrets,
                owner,
                log,
                db.cursor(ctx.remote_name, log),
                seqs,
                notes=[],
                pin=accepted_pin(dev, share_hex, ctx.remote_name),
            ):
                if limit is not None and vb.seq > limit:
                    break
                for vid in wanted & set(vb.batch.forgets):
                    out.setdefault(vid, (owner.name, vb.seq))
        except (IntegrityError, RemoteError):
            continue
    return out


def explain_missing(ctx: Context, versions: Iterable[tuple[str, bytes]]) -> ForgottenVersion | None:
    """The error to raise instead of a missing object, when a batch past this device's cursor forgets one of
    `versions` ((path, id) pairs); None when none is forgotten (the object is missing: damage, exit 4)."""
    named = dict((vid, path) for path, vid in versions)
    try:
        found = forgotten_by(ctx, named)
    except (IntegrityError, RemoteError):
        return None
    for vid, (device, seq) in found.items():
        return ForgottenVersion(
            f"{named[vid]}@{vid.hex()[:12]}: this version was forgotten by {device} ({ctx.remote_name} batch "
            f"{seq}) and its data pruned; run `fog pull` to bring this device's history up to date"
        )
    return None
