"""Versions stranded on a store this device no longer uses, remembered so that their paths keep their order.

A version this device published on remote NAME alone (the others still wait
for it: fog.sync.remotes.only_on) is left on no remote it uses when NAME is
removed (`remote remove --force`, or another device's `remote remove` learnt
by a pull) or pointed at another store (`remote set-url`). It stays queued
for the other remotes, but no source holds its objects: a push holds it, and
the later versions of its path made from it must wait behind it (a reader
would otherwise see the writer's own history out of order and write a conflict
copy: review 6, remotes R9). A held version that no remote carries is
otherwise let go (fog.sync.push.publish: one whose objects were pruned after a
killed push would hold its path's new work for ever); these are not, until
one of this device's remotes gets them (the old store added again and a push
copying them over) or they are forgotten (`fog forget`).

Share meta `stranded` (docs/FORMAT.md, section 12): a JSON list of
`{"name", "url", "ids"}`, one per store that stranded some, `ids` hex.
"""

from __future__ import annotations

import json

from fog.repo.share import Share

STRANDED = "stranded"


def _load(share: Share) -> list[dict[str, object]]:
    try:
        found = json.loads(share.db.get_meta(STRANDED) or b"[]")
    except ValueError:
        return []
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def record(share: Share, name: str, url: str, ids: set[bytes]) -> None:
    """Remember `ids`, left on the store `url` (remote `name` until now) and on no remote this device uses."""
    if not ids:
        return
    entries = _load(share)
    entries.append({"name": name, "url": url, "ids": sorted(i.hex() for i in ids)})
    share.db.put_meta(STRANDED, json.dumps(entries).encode())


def held(share: Share) -> dict[bytes, tuple[str, str]]:
    """The stranded versions still on no remote this device uses (queued for every one: none has published
    them), id -> (remote name, store URL). Those published since, or forgotten (no longer queued), are
    dropped from the record."""
    entries = _load(share)
    if not entries:
        return {}
    queues = [set(share.db.pending(n)) for n in share.config.queued_remotes()]
    out: dict[bytes, tuple[str, str]] = {}
    kept: list[dict[str, object]] = []
    for entry in entries:
        ids: list[str] = []
        for hex_id in entry.get("ids") or ():  # type: ignore[attr-defined]
            try:
                vid = bytes.fromhex(str(hex_id))
            except ValueError:
                continue
            if queues and all(vid in q for q in queues):
                out.setdefault(vid, (str(entry.get("name") or ""), str(entry.get("url") or "")))
                ids.append(str(hex_id))
        if ids:
            kept.append({**entry, "ids": ids})
    if kept != entries:
        if kept:
            share.db.put_meta(STRANDED, json.dumps(kept).encode())
        else:
            with share.db.write() as txn:
                share.db.drop_meta(txn, STRANDED)
    return out
