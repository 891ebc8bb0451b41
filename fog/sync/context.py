"""Opening what a sync command needs: identity, keys, remote, share store."""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field

from fog.backends.local import LocalBackend
from fog.crypto.keys import ShareKeys, device_log_name
from fog.errors import RemoteError
from fog.format.syncconfig import SyncConfig
from fog.format.version import VERSION_ID_PREFIX, Version
from fog.repo.identity import Identity
from fog.repo.share import Share
from fog.store import PackCatalog, PresenceCache, Remote, ShareStore
from fog.sync import keyring, nodes
from fog.sync.scan import TMP_PREFIX


@dataclass
class Context:
    """An open share bound to one of its remotes."""

    share: Share
    ident: Identity
    keys: ShareKeys
    remote_name: str
    remote: Remote
    store: ShareStore
    url: str = ""  # the URL the share's config gave for this remote when it was opened
    # devices of other users (a shared share), as the last pull learnt them (OTHER_DEVICES): their files
    # are never written setuid or setgid, by a pull or a restore
    others: frozenset[str] = frozenset()
    archive_skipped: str = ""  # why the local archive (.fog/archive) is not used in this run, when it is not
    # prune records on the remote that it altered or made up (record name -> why), as this run's observe found
    # them (fog.sync.prune): never acknowledged, and a pull says each (exit 4)
    altered: dict[str, str] = field(default_factory=dict)

    def mode_of(self, v: Version) -> int:
        """The permission bits to give `v` here: another user's lose setuid and setgid."""
        return v.mode & (0o1777 if v.device in self.others else 0o7777)

    @property
    def stale(self) -> bool:
        """The remote's name now points elsewhere (a pull reconciled the SyncConfig), or is gone."""
        return self.share.config.remotes.get(self.remote_name) != self.url

    @property
    def log(self) -> str:
        """This device's log name in this share."""
        return device_log_name(self.keys.share_id, self.ident.device_public)

    @property
    def user_secrets(self) -> tuple[bytes, ...]:
        """Every user secret an unsigned (0x01) batch or prune record may be sealed to (see `user_secrets`)."""
        return user_secrets(self.ident)

    def version_id(self, v: Version) -> bytes:
        return self.keys.mac(VERSION_ID_PREFIX + v.canonical())

    def seal_version(self, v: Version) -> Version:
        canonical = v.canonical()
        return v.with_id(self.keys.mac(VERSION_ID_PREFIX + canonical), canonical)

    def commit_presence(self, txn, *, locs: bool = True) -> None:  # type: ignore[no-untyped-def]
        """Record what is now known of the remote: present objects, and where packs hold them."""
        self.share.db.add_present(txn, self.remote_name, self.store.presence.take_new())
        self.store.catalog.commit(txn, locs=locs)

    def rekey(self, config: SyncConfig) -> None:
        """Take the share's keys from a newer SyncConfig: a key rotation adds an epoch, and what this
        device writes from then on must be sealed with the newest key."""
        entry = config.shares.get(self.keys.share_id.hex())
        if entry is None:
            return
        keys = ShareKeys.from_json(self.keys.share_id.hex(), entry)
        if keys != self.keys:
            self.keys = keys
            self.store.keys = keys
            if self.store.archive is not None:
                self.store.archive.keys = keys

    def close(self) -> None:
        self.remote.backend.close()


def user_secrets(ident: Identity) -> tuple[bytes, ...]:
    """This identity's user secret, then those the SyncConfig keeps from earlier user keys (`user_old`).

    Batches and prune records written before store format 4 are Box-sealed to
    the user key of their day (docs/FORMAT.md, section 9); after the user key
    changes they open with an old one. A malformed `user_old` item is skipped.
    """
    out = [ident.user_secret]
    config = ident.cached_config()
    old = getattr(config, "user_old", None)
    if old is None and config is not None:
        old = config.to_json().get("user_old")
    for item in old if isinstance(old, (list, tuple)) else ():
        try:
            key = bytes.fromhex(item["secret"])
        except (KeyError, TypeError, ValueError):
            continue
        if len(key) == 32 and key not in out:
            out.append(key)
    return tuple(out)


class Unavailable:
    """Stands in for a remote that could not be opened: every use fails with why."""

    def __init__(self, url: str, error: RemoteError) -> None:
        self.url, self.error = url, error

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> object:
            raise self.error

        return fail

    def close(self) -> None:
        pass


def config_seen_key(remote_name: str) -> str:
    """The share database's meta key for the SyncConfig version names seen on a remote (JSON list)."""
    return f"config-seen\0{remote_name}"


def members_seen_key(remote_name: str) -> str:
    """The share database's meta key for the member statements seen on a remote and verified there: JSON list
    of their names' last part (fog.sync.members.load; one that vanishes, or stops verifying, is a rollback)."""
    return f"members-seen\0{remote_name}"


def remote_instance_key(remote_name: str) -> str:
    """The share database's meta key for the instance id (SyncConfig remote entry) of the remote this
    device's memory of remote `remote_name` was learnt from (fog.sync.keyring.renew_if_readded)."""
    return f"remote-instance\0{remote_name}"


UNDELIVERED = "config-undelivered"  # share meta: JSON {URL: remote name} (fog.sync.remotes.deliver_config)


def rotation_checked_key(remote_name: str) -> str:
    """The share database's meta key for the rotation records last checked at the place this device's key
    rotation left, on a remote (JSON list of names; fog.sync.keyring.check_left_place)."""
    return f"rotation-checked\0{remote_name}"


def config_held_key(remote_name: str) -> str:
    """The share database's meta key for what the remote's SyncConfig is known to hold: the keyed
    fingerprint (fog.sync.keyring.fingerprint) of a copy the remote holds everything of."""
    return f"config-held\0{remote_name}"


def open_context(share: Share, ident: Identity, remote_name: str | None = None, *, offline_ok: bool = False) -> Context:
    """Bind a share to a remote. With offline_ok, an unreachable remote fails only when used."""
    name, url = share.remote_url(remote_name)
    try:
        remote = Remote(nodes.open_remote(url, ident))
        try:
            remote.require_marker()
        except BaseException:
            remote.backend.close()
            raise
    except RemoteError as exc:
        if not offline_ok:
            raise
        remote = Remote(Unavailable(url, exc))  # type: ignore[arg-type]
    try:
        if ident.cached_config() is None and not isinstance(remote.backend, Unavailable):
            found, _ = keyring.load_config(remote, ident)  # the cache was deleted: the remote has it
            if found is not None:
                ident.cache_config(found)
        keys = ident.share_keys(share.config.share_id)
    except BaseException:
        remote.backend.close()
        raise
    _staging.clear()
    presence = PresenceCache(load=lambda: share.db.present_runs(name))
    store = remote.share(keys, presence, PackCatalog(share.db))
    from fog.sync.prune import known_condemned  # (prune imports this module)

    store.condemned = known_condemned(share.db, name)  # no header scan of any command counts them present
    skipped = ""
    if share.config.archive_max_bytes > 0:
        try:
            (share.dir / "archive").mkdir(mode=0o700, exist_ok=True)
            archive = LocalBackend.from_url(str(share.dir / "archive"), create=True, private=True)
        except (OSError, RemoteError) as exc:  # an optional cache: no reason to stop a sync
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not writable"
            skipped = (
                f"the local archive {share.dir / 'archive'} cannot be used ({why}): replaced versions are not "
                "kept there until it is writable again (or turn it off: settings.archive_max_bytes 0 in "
                ".fog/config.json)"
            )
        else:
            store.archive = ShareStore(archive, keys)
    ctx = Context(share, ident, keys, name, remote, store, url, others=other_devices(share))
    ctx.archive_skipped = skipped
    return ctx


OTHER_DEVICES = "other-user-devices"  # share db meta: JSON list of the other users' device ids (a pull sets it)


def other_devices(share: Share) -> frozenset[str]:
    """The other users' devices of a shared share, as the last pull learnt them."""
    try:
        found = json.loads(share.db.get_meta(OTHER_DEVICES) or b"[]")
    except ValueError:
        return frozenset()
    return frozenset(d for d in found if isinstance(d, str)) if isinstance(found, list) else frozenset()


def remember_others(ctx: Context) -> None:
    """Keep `ctx.others` (a pull's) for the commands that do not read the members (a restore)."""
    if ctx.others != other_devices(ctx.share):
        ctx.share.db.put_meta(OTHER_DEVICES, json.dumps(sorted(ctx.others)).encode())


def trim_archive(ctx: Context) -> int:
    """Delete the oldest archived objects until the archive fits its setting, counted as the disk space
    they take (a 61-byte object takes a 4 KiB block: their sizes alone let the archive grow many times
    over its setting)."""
    archive = ctx.store.archive
    if archive is None:
        return 0
    root = ctx.share.dir / "archive"
    files = []
    for dirpath, _, names in os.walk(root):
        _private(dirpath, 0o700)
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                s = os.lstat(p)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(s.st_mode):
                _private(p, 0o600, s)
            files.append((s.st_mtime_ns, max(s.st_size, s.st_blocks * 512), p))
    total = sum(f[1] for f in files)
    removed = 0
    for _, size, p in sorted(files):
        if total <= ctx.share.config.archive_max_bytes:
            break
        os.unlink(p)
        total -= size
        removed += 1
    return removed


def _private(path: str, mode: int, s: os.stat_result | None = None) -> None:
    """chmod an archive entry an older fog made with the umask's modes (README: `.fog/` is private)."""
    try:
        if stat.S_IMODE((s or os.lstat(path)).st_mode) & 0o077:
            os.chmod(path, mode)
    except OSError:  # gone meanwhile, or not ours (another user's fog wrote it): `.fog/` itself is 0700
        pass


def staging_dir(ctx: Context, parent: str) -> str:
    """Where to write a file before renaming it into the directory `parent`.

    `.fog/tmp/` when it is on the same filesystem: push never scans it, and
    the next pull sweeps what a killed one left there, so a temp file never
    turns into a synced file. Otherwise (a mount inside the share) `parent`.
    Decided once per directory and command. Strings, not paths: a pull asks
    once per file, and pathlib cost more than the syscalls here.
    """
    found = _staging.get(parent)
    if found is None:
        found = _staging[parent] = _staging_for(ctx, parent)
    return found


_staging: dict[str, str] = {}


def _staging_for(ctx: Context, parent: str) -> str:
    tmp = os.path.join(ctx.share.dir, "tmp")
    top = ctx.share.top
    try:
        if parent == top or parent.startswith(top.rstrip(os.sep) + os.sep):
            # most shares are one filesystem: compare against the root's device once
            root_dev = _dev(top)
            if root_dev == _dev(tmp) and os.stat(parent).st_dev == root_dev:
                return tmp
            return parent
        return tmp if _dev(tmp) == os.stat(parent).st_dev else parent
    except FileNotFoundError:
        return parent


_devs: dict[str, int] = {}


def _dev(path: str) -> int:
    if path not in _devs:
        _devs[path] = os.stat(path).st_dev
    return _devs[path]


def sweep_staging(ctx: Context) -> None:
    """Remove the temp files of an earlier pull or restore that was killed (we hold the lock).

    Also forgets staging decisions of an earlier command in this process.
    """
    _staging.clear()
    for p in ctx.share.tmp_dir().glob(f"{TMP_PREFIX}*"):
        try:
            if stat.S_ISDIR(p.lstat().st_mode):  # never made by fog, but .fog/tmp is its own: not a reason to stop
                shutil.rmtree(p)
            else:
                p.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass  # (a name fog will not use: each temp file's name is new) left for the user
