"""forget: drop old versions from every device's history, as a retention policy says.

`choose` is a pure reading of the local history: per path, its versions and
head go through fog.sync.retention.plan, and what the plan does not keep is
chosen (never the current version of a live path, whatever the plan says).
`record` forgets them here and queues the forget for every remote in one
transaction; `publish_all` then publishes the forgets on each remote it
reaches as a batch of this device's log, the way push publishes versions.
A remote that fails keeps them queued: the next push or sync publishes them.
Every device that reads the batch drops the versions from its history
(fog.sync.pull), and a clone never records them (docs/FORMAT.md, section 8).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fog.errors import IntegrityError, NoHistoryError, RemoteError, failure
from fog.format.version import Version
from fog.repo.db import RepoDB
from fog.repo.forgetting import Forgot
from fog.repo.share import Share
from fog.sync.context import Context
from fog.sync.push import catch_up_own_log, publish

if TYPE_CHECKING:
    from fog.sync.retention import Candidate, Decision, Policy


@dataclass
class ForgottenVersion:
    """One version forgotten (or that would be, under --dry-run), and why."""

    path: str
    version: str  # hex id
    time_ns: int
    device: str  # its author's name
    device_id: str
    kind: str
    size: int  # logical: the file's size (0 for a deletion or a directory)
    reasons: list[str]


@dataclass
class ForgetResult:
    dry_run: bool
    policy: str  # where the policy came from: "options" (the command line), "share" or "default"
    versions: int = 0
    paths: int = 0
    bytes: int = 0  # logical size of the versions forgotten
    forgotten: list[ForgottenVersion] = field(default_factory=list)
    batches: dict[str, int] = field(default_factory=dict)  # remote -> batch that published the forgets
    remote_errors: dict[str, str] = field(default_factory=dict)  # remotes that failed: the forgets wait there
    seconds: float = 0.0


def under(path: str, scopes: list[str]) -> str | None:
    """The first scope that holds `path` (a scope is a path, or "" for the whole share)."""
    for scope in scopes:
        if not scope or path == scope or path.startswith(scope + "/"):
            return scope
    return None


def choose(db: RepoDB, scopes: list[str] | None, policy: Policy, now_ns: int) -> list[tuple[Decision, Version]]:
    """The versions the policy forgets among the paths in `scopes` (None: every path), oldest first.

    A scope that holds no path with history is a NoHistoryError, exit 1 as everywhere (a typo must not
    look like "nothing to forget").
    """
    from fog.sync.retention import Candidate, plan

    met: set[str] = set()
    live_heads: set[bytes] = set()
    read: dict[bytes, Version] = {}  # every version read once, for the ones the plan forgets (no second decode)

    def paths(txn: object) -> Iterator[tuple[str, list[Candidate], bytes | None]]:
        for path, versions, head in db.histories(txn):  # type: ignore[arg-type]
            if scopes is not None:
                scope = under(path, scopes)
                if scope is None:
                    continue
                met.add(scope)
            if head is None or not any(v.id == head for v in versions):
                continue  # no head, or one whose record is gone: which version is current is unknown
            for v in versions:
                if v.id == head and not v.deleted:
                    live_heads.add(v.id)  # never forgotten: not held (most versions of a big share)
                else:
                    read[v.id] = v
            yield path, [_candidate(txn, v, head) for v in versions], head

    def _candidate(txn: object, v: Version, head: bytes) -> Candidate:
        recorded = db.deletion_recorded(txn, v.id) if v.id == head and v.deleted else 0  # type: ignore[arg-type]
        return Candidate(v.id, v.time_ns, v.kind, v.size, recorded, v.parent)

    with db.read() as txn:  # memory holds one path's versions at a time, and the decisions
        decisions = plan(paths(txn), policy, now_ns)
        for scope in scopes or []:
            if scope not in met:
                raise NoHistoryError(scope)
        out = [(d, read[d.id]) for d in decisions if not d.keep and d.id not in live_heads]
    out.sort(key=lambda dv: (dv[1].time_ns, dv[1].id))
    return out


def describe(
    chosen: list[tuple[Decision, Version]], names: dict[str, str], result: ForgetResult, *, listing: bool = True
) -> None:
    """Fill the result's totals from the chosen versions, and with `listing` its list (one entry each)."""
    for d, v in chosen if listing else ():
        result.forgotten.append(
            ForgottenVersion(
                v.path,
                v.id.hex(),
                v.time_ns,
                names.get(v.device, v.device[:8]),
                v.device,
                v.kind,
                v.size,
                list(d.reasons),
            )
        )
    result.bytes = sum(v.size for _, v in chosen if v.kind == "file")
    result.versions = len(chosen)
    result.paths = len({v.path for _, v in chosen})


RECORD_CHUNK = 8192  # versions forgotten per transaction: a commit's dirty pages, not the history's


def record(share: Share, versions: list[Version]) -> Forgot:
    """Forget the versions here and queue the forgets for every remote this device queues for.

    A chunk at a time, each in one transaction (forgotten and queued together;
    a stopped run leaves whole chunks, which the next push publishes), with the
    map dropped in between (RepoDB.remap)."""
    db = share.db
    done = Forgot()
    # a path's versions stay in one chunk: its head is fixed once, with all of them gone
    ordered = sorted(versions, key=lambda v: (v.path, v.time_ns, v.id))
    start = 0
    while start < len(ordered):
        stop = min(start + RECORD_CHUNK, len(ordered))
        while stop < len(ordered) and ordered[stop].path == ordered[stop - 1].path:
            stop += 1
        with db.write() as txn:
            part = db.forget_versions(txn, ordered[start:stop])
            db.add_pending_forgets(txn, share.config.queued_remotes(), part.new)
        done.removed += part.removed
        done.kept += part.kept
        done.new += part.new
        db.remap()
        start = stop
    return done


def publish_all(ctxs: list[Context], result: ForgetResult) -> None:
    """Publish what waits for each remote (the forgets, and any queued versions) as one batch each."""
    live: list[Context] = []
    for ctx in ctxs:
        try:
            catch_up_own_log(ctx, [c.store for c in ctxs])
            live.append(ctx)
        except (RemoteError, IntegrityError) as exc:  # (refused data there: exit 4, the others go on)
            result.remote_errors[ctx.remote_name] = failure(exc)
    for ctx in live:
        try:
            n = publish(ctx, live)
        except (RemoteError, IntegrityError) as exc:
            result.remote_errors[ctx.remote_name] = failure(exc)
            continue
        if n is not None:
            result.batches[ctx.remote_name] = n
