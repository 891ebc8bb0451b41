"""The library surface for whole trees through time: restore, ls, diff, pushes, find.

Beside fog.api (and built on its share opening): each function takes explicit
arguments and returns a result dataclass; nothing prints. One resolver
(fog.repo.trees) decides what DIR@WHEN names for all of them, and each result
carries what the REV resolved to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from fog.api import Progress, _forgotten_explained, _scope, context, device_names, open_share
from fog.errors import FogError, NoHistoryError, UsageError
from fog.format.version import Version
from fog.repo import revs, trees
from fog.repo.pushes import Push
from fog.repo.share import Share
from fog.store import PutStats
from fog.sync import inspect as inspect_mod
from fog.sync import push as push_mod
from fog.sync import restore as restore_mod
from fog.sync import treerestore
from fog.sync.context import Context
from fog.sync.guard import DeleteLimit
from fog.sync.merge import same_state


def split_tree_spec(share: Share, cwd: Path, spec: str) -> tuple[str, str | None]:
    """DIR@REV as (share path, "" for the share; REV or None).

    A path with `@` in its name (`me@example.com`) is that path, no REV, when the part before the last
    `@` is nothing (neither in history nor on disk) and the whole spec is something: as
    fog.api.resolve_version reads PATH@REV; `me@example.com@REV` names it at REV."""
    path, rev = revs.split_spec(spec)
    scope = _scope(share, cwd, (path or ".") if rev is not None else path)  # (@REV: the current directory)
    if rev is None or _exists(share, scope):
        return scope, rev
    try:
        whole = _scope(share, cwd, spec)
    except UsageError:
        return scope, rev
    return (whole, None) if _exists(share, whole) else (scope, rev)


def _exists(share: Share, scope: str) -> bool:
    """Whether SCOPE is something: in history (at or below it) or on disk."""
    return not scope or trees.has_history(share.db, scope) or os.path.lexists(share.root / scope)


def spec_is_tree(home: Path, cwd: Path, spec: str) -> bool:
    """Whether PATH@REV names a directory or the share (a tree), not one file."""
    with open_share(home, cwd, lock=False) as (share, _ident):
        try:
            scope, rev = split_tree_spec(share, cwd, spec)
        except UsageError:
            return False
        if trees.is_tree(share.db, scope):
            return True
        # a directory now (maybe a file before: `diff f` answers as the tree's diff, `T f`), unless a REV
        # names one of its file versions
        return (share.root / scope).is_dir() and (rev is None or not share.db.path_history(scope))


def _tree(
    share: Share, scope: str, rev: str | None, names: dict[str, str], forgotten: dict[str, Version] | None = None
) -> tuple[dict[str, Version], str, int | None]:
    """The tree SCOPE@REV names, how to say the moment, and its time (ns; None: the current state);
    `forgotten` receives the paths whose state then is unknown, their history before it forgotten
    (fog.repo.trees)."""
    if scope and rev is not None and not trees.has_history(share.db, scope):  # (before "only 0 pushes changed it")
        raise NoHistoryError(scope)
    moment = trees.resolve_moment(share.db, scope, rev, names)
    tree = trees.tree_at(share.db, scope, moment.when_ns, forgotten)
    if moment.version is not None:  # (the named one, even if another of that path has the same time)
        if moment.version.deleted:
            hint = revs.older_than_deletion(share.db.path_history(scope), moment.version)
            raise FogError(f"{scope}@{rev} is a deletion; {hint}")
        tree = dict(sorted({**tree, scope: moment.version}.items()))
    if scope and scope not in tree and not tree and not trees.has_history(share.db, scope):
        raise NoHistoryError(scope)
    return tree, moment.label, moment.when_ns


# -- restore ------------------------------------------------------------------------------


def restore_tree(
    home: Path,
    cwd: Path,
    spec: str,
    *,
    output: str | None = None,
    force: bool = False,
    delete: bool = False,
    max_delete: str | None = None,
    dry_run: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
) -> treerestore.TreeRestoreResult:
    """Restore DIR@REV (or the share, `.@REV`) in place, or to `output` (cp -r: into it if it is a directory).

    `progress(done, total)`: bytes of the files written, told as their blocks arrive."""
    limit = DeleteLimit.parse(max_delete) if max_delete is not None else None
    if delete and output is not None:
        raise UsageError("--delete restores in place; it cannot be combined with --output")
    with context(home, cwd, wait=wait, offline_ok=True) as ctx:
        scope, rev = split_tree_spec(ctx.share, cwd, spec)
        names = device_names(ctx.ident, ctx.share)
        forgotten: dict[str, Version] = {}
        tree, label, when = _tree(ctx.share, scope, rev, names, forgotten)
        if scope and scope in tree and tree[scope].kind != "dir":  # a file (or link) then, a directory now
            with _forgotten_explained(ctx, tree[scope]):
                done = _restore_one(ctx, scope, tree[scope], label, output, cwd, force, dry_run)
                done.moment_ns = when
                return done
        out = None
        if output is not None:
            out = os.path.normpath(cwd.absolute() / output)
            if os.path.isdir(out) and any(os.scandir(out)) and not treerestore.unfinished(out):
                # (cp -r: into it, under the tree's own name; but a stopped restore there goes on)
                out = os.path.join(out, scope.rsplit("/", 1)[-1] if scope else ctx.share.root.name)
            if Path(out).resolve().is_relative_to(ctx.share.root.resolve()):
                raise UsageError(
                    f"--output {output}: a tree restored inside the share would be pushed; pick a place outside it"
                )
        with _forgotten_explained(ctx, *tree.values()):  # (forgotten and pruned by another device: exit 1)
            done = treerestore.restore_tree(
                ctx,
                scope,
                tree,
                label,
                output=out,
                force=force,
                delete=delete,
                max_delete=limit,
                dry_run=dry_run,
                progress=progress,
                forgotten=[p for p in forgotten if p != scope],
            )
            done.moment_ns = when
            return done


def _restore_one(
    ctx: Context, scope: str, v: Version, label: str, output: str | None, cwd: Path, force: bool, dry_run: bool
) -> treerestore.TreeRestoreResult:
    """PATH@REV named a directory's history, but PATH was a file or link at that moment: that version."""
    out = None if output is None else str(Path(os.path.normpath(cwd.absolute() / output)))
    result = treerestore.TreeRestoreResult(scope, label, out or str(ctx.share.root / scope), dry_run, out is None)
    result.written = [scope]
    result.bytes_planned = v.size if v.kind == "file" else 0
    done = restore_mod.restore(ctx, v, output=out, force=force, dry_run=dry_run)  # (a dry run: the same checks)
    result.output = done.output
    if not dry_run:
        result.bytes_written = result.bytes_planned
    return result


# -- ls -----------------------------------------------------------------------------------


@dataclass
class LsResult:
    scope: str
    moment: str
    entries: list[Version]  # in path order
    moment_ns: int | None  # the time it resolved to (None: the current state)
    names: dict[str, str] = field(default_factory=dict)  # device id -> name
    # paths whose state then is unknown (their history before it forgotten), with their oldest remaining version
    forgotten: list[Version] = field(default_factory=list)
    absent: bool = False  # SCOPE itself did not exist at the moment (deleted then, or not made yet)


def ls(home: Path, cwd: Path, spec: str | None = None, *, recursive: bool = False) -> LsResult:
    """What DIR@REV held: its direct entries, or (recursive) everything below it."""
    with open_share(home, cwd, lock=False) as (share, ident):
        scope, rev = split_tree_spec(share, cwd, "." if spec is None else spec)
        names = device_names(ident, share)
        forgotten: dict[str, Version] = {}
        tree, label, when = _tree(share, scope, rev, names, forgotten)
        if scope in tree and tree[scope].kind != "dir":
            return LsResult(scope, label, [tree[scope]], when, names)
        if scope in forgotten and forgotten[scope].kind != "dir" and not tree:
            return LsResult(scope, label, [], when, names, [forgotten[scope]])
        depth = scope.count("/") + 1 if scope else 0
        entries = [v for p, v in tree.items() if p != scope and (recursive or p.count("/") == depth)]
        unknown = [v for p, v in forgotten.items() if p != scope and (recursive or p.count("/") == depth)]
        absent = bool(scope) and not tree and not forgotten  # (an empty directory then: its own version is here)
        return LsResult(scope, label, entries, when, names, unknown, absent)


# -- diff ---------------------------------------------------------------------------------


@dataclass
class TreeChange:
    path: str
    status: str  # A added, D deleted, M modified (content or mode), T kind changed
    old: Version | None
    new: Version | None  # the working side: a version computed from the file, not recorded (id b"")
    patch: inspect_mod.DiffResult | None = None


@dataclass
class TreeDiffResult:
    scope: str
    old: str  # what each side is
    new: str
    changes: list[TreeChange]
    old_ns: int | None = None  # the time each side resolved to (None: the current state, or the working tree)
    new_ns: int | None = None
    names: dict[str, str] = field(default_factory=dict)  # device id -> name
    # paths left out of `changes`: one side is a moment at which their state is unknown (history forgotten)
    forgotten: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.changes


def _working(ctx: Context, scope: str) -> dict[str, Version]:
    """The working tree under SCOPE as versions (changed files hashed, never stored): the heads plus status."""
    share = ctx.share
    tree = trees.tree_at(share.db, scope, None)
    result = push_mod.PushResult("", True)
    changes = push_mod.plan(
        ctx.keys, None, share.root, share.db, ctx.ident.device_id, PutStats(), result, fenced=share.fenced
    )
    for c in changes:
        if not trees._in_scope(c.path, scope):
            continue
        if c.status == "deleted":
            tree.pop(c.path, None)
        elif c.version is not None:
            tree[c.path] = c.version
    return dict(sorted(tree.items()))


def tree_diff(
    home: Path,
    cwd: Path,
    spec_a: str | None = None,
    spec_b: str | None = None,
    *,
    patch: bool = False,
    wait: bool = False,
) -> TreeDiffResult:
    """Compare DIR@REV1 with DIR@REV2, or with the working tree; no spec: the last push with the working tree."""
    with context(home, cwd, wait=wait, offline_ok=True) as ctx:
        share = ctx.share
        names = device_names(ctx.ident, share)
        scope, rev_a = split_tree_spec(share, cwd, "." if spec_a is None else spec_a)
        unknown: dict[str, Version] = {}
        if spec_a is None:
            old, old_label, old_ns = trees.tree_at(share.db, scope, None), "the last push", None
        else:
            old, old_label, old_ns = _tree(share, scope, rev_a, names, unknown)
        if spec_b is None:
            new, new_label, new_ns = _working(ctx, scope), "the working tree", None
        else:
            if "@" in spec_b:
                scope_b, rev_b = split_tree_spec(share, cwd, spec_b)
                if scope_b != scope:
                    raise UsageError(f"{spec_b}: compare the same directory at two moments ({scope or '.'}@REV)")
            else:
                rev_b = _bare_second(share, cwd, scope, spec_b)
            new, new_label, new_ns = _tree(share, scope, rev_b, names, unknown)
        changes: list[TreeChange] = []
        unsure: list[str] = []
        for path in sorted(old.keys() | new.keys()):
            a, b = old.get(path), new.get(path)
            if (a is None or b is None) and path in unknown:
                unsure.append(path)  # absent on one side only because its history then was forgotten: not "added"
                continue
            if a is not None and b is not None and same_state(a, b):
                continue
            status = "A" if a is None else "D" if b is None else "T" if a.kind != b.kind else "M"
            changes.append(TreeChange(path, status, a, b))
        if patch:
            for c in changes:
                with _forgotten_explained(ctx, *(v for v in (c.old, c.new) if v is not None and v.id)):
                    c.patch = _patch(ctx, c, spec_b is None)
        return TreeDiffResult(scope, old_label, new_label, changes, old_ns, new_ns, names, unsure)


def _bare_second(share: Share, cwd: Path, scope: str, spec: str) -> str | None:
    """The second side of a tree diff given without `@`: the same directory (None: now), as a file diff takes a
    bare PATH; else a bare REV of that directory."""
    try:
        path = _scope(share, cwd, spec)
    except UsageError:
        return spec
    if not _exists(share, path):
        return spec
    if path != scope:
        raise UsageError(f"{spec}: compare the same directory at two moments ({scope or '.'}@REV)")
    return None


def _patch(ctx: Context, c: TreeChange, working: bool) -> inspect_mod.DiffResult | None:
    """The content diff of one changed file (None for directories)."""
    if "dir" in (c.old.kind if c.old else "", c.new.kind if c.new else ""):
        return None
    absent = inspect_mod.Side(f"{c.path} (absent)", "deleted", None, 0, None)
    old = inspect_mod.version_side(ctx, c.old) if c.old else absent
    if c.new is None:
        new = absent
    elif working:
        new = inspect_mod.working_side(ctx.share.root / c.path, c.path)
    else:
        new = inspect_mod.version_side(ctx, c.new)
    return inspect_mod.diff(c.path, old, new)


# -- pushes and find ----------------------------------------------------------------------


@dataclass
class PushesResult:
    pushes: list[Push]  # newest first
    names: dict[str, str]
    heads: set[bytes]  # ids of current versions


def pushes(home: Path, cwd: Path, path: str | None = None) -> PushesResult:
    """Every push (those touching PATH when given), newest first, with its versions."""
    with open_share(home, cwd, lock=False) as (share, ident):
        scope = _scope(share, cwd, path) if path is not None else ""
        if scope and not trees.has_history(share.db, scope):
            raise NoHistoryError(scope)  # (not "No pushes match.", exit 0: a typo is not an empty answer)
        found = trees.pushes(share.db, scope)
        if scope:
            for p in found:
                p.versions = [v for v in p.versions if trees._in_scope(v.path, scope)]
        heads = {v.id for v in trees.tree_at(share.db, scope, None).values()}
        return PushesResult(found, device_names(ident, share), heads)


@dataclass
class FindResult:
    pattern: str
    matches: dict[str, list[Version]]  # path -> its versions, newest first
    names: dict[str, str]
    heads: set[bytes]


def find(home: Path, cwd: Path, pattern: str, path: str | None = None) -> FindResult:
    """Paths in history (deleted ones too) matching a glob, with their versions."""
    with open_share(home, cwd, lock=False) as (share, ident):
        scope = _scope(share, cwd, path) if path is not None else ""
        if scope and not trees.has_history(share.db, scope):
            raise NoHistoryError(scope)  # a DIR that is not there: not "no path matches", exit 0
        matches = trees.find(share.db, pattern, scope)
        with share.db.read() as txn:
            heads = {h.id for p in matches if (h := share.db.head(p, txn)) is not None}
        return FindResult(pattern, matches, device_names(ident, share), heads)
