"""The local share repository `DIR/.fog/`: config, lock and database.

.fog/config.json   share id and name, remotes (name -> URL), format
.fog/lock          flock(2) target; held for the whole of a command
.fog/db/           LMDB environment (see fog.repo.db)
.fog/tmp/          scratch space (restore staging)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from fog.errors import FogError, LockHeldError, NotAShareError, UsageError
from fog.repo import history
from fog.repo.db import RepoDB, not_yours
from fog.repo.history import FOG_DIR, READABLE_FORMATS, REPO_FORMAT
from fog.repo.vault import write_private

__all__ = [
    "FOG_DIR",
    "REPO_FORMAT",
    "Share",
    "ShareConfig",
    "find_root",
    "home_below",
    "refuse_home_inside",
    "refuse_nesting",
]
PLACING = "placing"  # meta key: paths whose files a pull is placing and has not recorded yet (fog.sync.pull)
CLONING = "clone-unfinished"  # meta key: set by `fog clone` before its pull, dropped when that pull records


def find_root(start: Path) -> Path:
    """Walk up from `start` to the directory holding `.fog/`."""
    start = start.absolute()
    found = history.find_root(str(start))
    if found is None:
        for here in (start, *start.parents):
            fog_dir = here / FOG_DIR
            if os.path.isdir(fog_dir) and not os.access(fog_dir, os.R_OK | os.X_OK, effective_ids=True):
                raise FogError(f"cannot read the share's {FOG_DIR}: {not_yours(str(fog_dir), fog_dir, 'readable')}")
            if unfinished_start(here):
                raise NotAShareError(
                    f"{here / FOG_DIR} has no config.json: a `fog clone` or `fog init` there was stopped before it "
                    "wrote it; run the same command again (it removes that .fog/ and starts over)"
                )
        raise NotAShareError(f"not inside a fog share (no {FOG_DIR}/ in {start} or any parent)")
    return Path(found)


def unfinished_start(root: Path) -> bool:
    """Whether `root/.fog/` holds only what `Share.create` makes before config.json (an empty `tmp/`, a
    temp copy of config.json): the start of a clone or init that was stopped there, nothing to keep."""
    fog_dir = root / FOG_DIR
    try:
        if not stat.S_ISDIR(os.lstat(fog_dir).st_mode) or os.path.lexists(fog_dir / "config.json"):
            return False
        for entry in os.scandir(fog_dir):
            if entry.name == "tmp" and entry.is_dir(follow_symlinks=False):
                if any(os.scandir(entry.path)):
                    return False
            elif not (entry.name.startswith(".config.json.tmp-") and entry.is_file(follow_symlinks=False)):
                return False
    except OSError:
        return False
    return True


def clear_unfinished_start(root: Path) -> bool:
    """Remove `root/.fog/` when it is an `unfinished_start`; whether it was one."""
    if not unfinished_start(root):
        return False
    try:
        shutil.rmtree(root / FOG_DIR)
    except OSError as exc:
        raise FogError(f"cannot remove the unfinished {root / FOG_DIR}: {exc.strerror or exc}") from None
    return True


def refuse_nesting(root: Path) -> None:
    """UsageError when `root` is inside a share or holds one below it: shares never nest.

    An outer share would otherwise upload the inner one's database and lock.
    Walks the tree below `root` (once, at init or clone).
    """
    root = root.absolute()
    outer = history.find_root(os.path.dirname(root))
    if outer is not None:
        raise UsageError(f"{root} is inside the fog share {outer}; shares cannot nest (choose a directory outside it)")
    for dirpath, dirnames, _ in os.walk(root):
        if FOG_DIR in dirnames and os.path.isfile(os.path.join(dirpath, FOG_DIR, "config.json")):
            raise UsageError(f"{root} holds the fog share {dirpath}; shares cannot nest (choose another directory)")


def home_below(root: Path, home: Path) -> str | None:
    """Where FOG_HOME `home` lies in the share at `root`, as a '/'-separated path below it ("" for the root
    itself); None when outside. Both resolved: a symlinked directory on the way can lead into the share,
    and the scan (which follows no symlink) meets FOG_HOME where it physically is."""
    real_root, real_home = Path(os.path.realpath(root)), Path(os.path.realpath(home))
    if not real_home.is_relative_to(real_root):
        return None
    rel = real_home.relative_to(real_root).as_posix()
    return "" if rel == "." else rel


def refuse_home_inside(root: Path, home: Path) -> None:
    """UsageError when FOG_HOME `home` is inside `root` (a share being made): its next push would publish this
    device's keys to every device, and a pull would replace them with another device's."""
    if home_below(root, home) is not None:
        raise UsageError(
            f"{root} holds FOG_HOME ({home}), this device's keys, which a share must never sync: "
            f"choose a directory that does not hold it, or set FOG_HOME to a directory outside {root}"
        )


DEFAULT_ARCHIVE_BYTES = 512 << 20


@dataclass
class ShareConfig:
    share_id: str
    name: str
    remotes: dict[str, str] = field(default_factory=dict)  # the remotes this device uses: name -> URL
    settings: dict[str, object] = field(default_factory=dict)
    # this device's own view of the SyncConfig's remotes: name -> {"url": URL} or {"skip": true}
    local_remotes: dict[str, dict[str, object]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "format": REPO_FORMAT,
            "share_id": self.share_id,
            "name": self.name,
            "remotes": self.remotes,
            "settings": self.settings,
        }
        if self.local_remotes:
            doc["local_remotes"] = self.local_remotes
        return doc

    def queued_remotes(self) -> list[str]:
        """The remotes new versions are queued for: those used, and those skipped here (their
        queue waits for `fog remote unskip`)."""
        skipped = [n for n, e in self.local_remotes.items() if e.get("skip") is True]
        return sorted({*self.remotes, *skipped})

    @property
    def archive_max_bytes(self) -> int:
        """Bytes the local archive of replaced versions may use (0 disables it)."""
        return int(str(self.settings.get("archive_max_bytes", DEFAULT_ARCHIVE_BYTES)))


def _local_remotes(raw: object) -> dict[str, dict[str, object]]:
    """`local_remotes` of config.json: name -> {"url": str} and/or {"skip": true}; else ValueError."""
    if not isinstance(raw, dict):
        raise ValueError("local_remotes must be a JSON object")
    out: dict[str, dict[str, object]] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or not set(entry) <= {"url", "skip"}:
            raise ValueError(f"local_remotes[{name!r}] must be {{'url': URL}} and/or {{'skip': true}}")
        if "url" in entry and not (isinstance(entry["url"], str) and entry["url"]):
            raise ValueError(f"local_remotes[{name!r}]: url must be a non-empty string")
        if "skip" in entry and entry["skip"] is not True:
            raise ValueError(f"local_remotes[{name!r}]: skip must be true")
        out[str(name)] = dict(entry)
    return out


def _share_config(doc: object) -> ShareConfig:
    """config.json's content, checked field by field (ValueError says what is wrong)."""
    if not isinstance(doc, dict):
        raise ValueError(f"a JSON object was expected, not {type(doc).__name__}")
    share_id, name, remotes, settings = (
        doc.get("share_id"),
        doc.get("name"),
        doc.get("remotes"),
        doc.get("settings", {}),
    )
    if not isinstance(share_id, str) or len(share_id) != 32 or share_id.strip("0123456789abcdef"):
        raise ValueError("share_id is not 32 lowercase hex digits")
    if not isinstance(name, str):
        raise ValueError("name is not a string")
    if not isinstance(remotes, dict) or not all(isinstance(u, str) and u for u in remotes.values()):
        raise ValueError("remotes must map names to URLs")
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    archive = settings.get("archive_max_bytes", 0)
    if isinstance(archive, bool) or not (isinstance(archive, int) and archive >= 0 or str(archive).isdigit()):
        raise ValueError("settings.archive_max_bytes must be a whole number of bytes")
    return ShareConfig(share_id, name, dict(remotes), dict(settings), _local_remotes(doc.get("local_remotes", {})))


def tighten(fog_dir: Path) -> None:
    """Make `.fog/` private (directories 0700, files 0600) when it is not: it holds every path
    name and its history. One stat per command; the walk runs once, for a share made by an
    older fog (whose `.fog/` followed the umask)."""
    try:
        if not os.stat(fog_dir).st_mode & 0o077:
            return
        for dirpath, _, filenames in os.walk(fog_dir):
            os.chmod(dirpath, 0o700)
            for name in filenames:
                path = os.path.join(dirpath, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o600)
    except OSError as exc:
        raise FogError(f"cannot make {fog_dir} private: {exc.strerror} ({exc.filename})") from None


def _wrong_kind(path: Path, kind: str) -> str:
    return f"{path} is not a {kind} (damaged .fog/?): move it out of the share; fog makes a new one"


class ShareLock:
    """An exclusive flock on `.fog/lock` so two fog processes never interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, wait: bool) -> None:
        try:  # never through a symlink: it would truncate and write the pid into whatever it names
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FogError(_wrong_kind(self.path, "file")) from None
            raise FogError(f"cannot lock {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockHeldError(
                    f"another fog process holds the lock on {self.path.parent.parent}; try again later or pass --wait"
                ) from None
            raise FogError(f"cannot lock {self.path}: {exc.strerror}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class Share:
    """An open share: root directory, config, database, and (maybe) the lock."""

    def __init__(self, root: Path, *, lock: bool = True, wait: bool = False, new: bool = False) -> None:
        """Open the share at root (`new`: just made by `create`, its database not yet)."""
        self.root = root
        self.top = str(root)  # the root as a str, for hot paths that join many names
        # FOG_HOME's path below the root when it lies in the share (home_below; set by whoever knows FOG_HOME,
        # fog.api.open_share): a scan never reads it, a pull or restore never writes into it
        self.fenced: str | None = None
        self.dir = root / FOG_DIR
        self.lock = ShareLock(self.dir / "lock")
        if lock:
            self._check_kinds()
            self.lock.acquire(wait)
        try:
            if lock:
                tighten(self.dir)
                if os.path.lexists(self.dir / "db.repack"):  # a repack's copy, left by a crash: never used
                    shutil.rmtree(self.dir / "db.repack", ignore_errors=True)
            self.config, found = self._load_config()
            if not new:
                self._check_db()
            self.db = RepoDB(self.dir / "db", self._recovery(), follow=not lock)
            if lock and found != REPO_FORMAT:
                try:
                    # marked first: new entries take the new form, and what is stored stays readable here;
                    # a fog that knows only an older format then refuses the share, also after a crash
                    # part-way through the upgrade (1-3 -> 4: stat entries trimmed in place, then repacked)
                    self.save_config()
                    self.db.upgrade(found)
                except BaseException:
                    self.db.close()
                    raise
        except BaseException:
            self.lock.release()
            raise

    def _check_kinds(self) -> None:
        """`.fog/lock` a file, `.fog/tmp` and `.fog/archive` directories, if there: else one line saying so
        (not "Is a directory: .../lock" from the system). Each is remade when moved away: the lock is a
        lock, tmp holds what a killed command left, archive copies of overwritten files. A symlink is none
        of them (lstat): fog would write the pid into, or sweep leftovers from, whatever it names."""
        for name, want in (("lock", stat.S_ISREG), ("tmp", stat.S_ISDIR), ("archive", stat.S_ISDIR)):
            try:
                mode = os.lstat(self.dir / name).st_mode
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise FogError(f"cannot use {self.dir / name}: {exc.strerror}") from None
            if not want(mode):
                raise FogError(_wrong_kind(self.dir / name, "file" if want is stat.S_ISREG else "directory"))

    @classmethod
    def create(cls, root: Path, share_id: str, name: str, remote_url: str, remote_name: str = "origin") -> Share:
        """Make `.fog/` in root (which must not already have one)."""
        fog_dir = root / FOG_DIR
        if (fog_dir / "config.json").exists():
            raise FogError(f"{root} is already a fog share")
        root.mkdir(parents=True, exist_ok=True)
        fog_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(fog_dir, 0o700)  # it holds every path name and its history
        (fog_dir / "tmp").mkdir(mode=0o700, exist_ok=True)
        cfg = ShareConfig(share_id, name, {remote_name: remote_url})
        write_private(fog_dir / "config.json", json.dumps(cfg.to_json(), indent=1).encode())
        return cls(root, new=True)

    def _load_config(self) -> tuple[ShareConfig, int]:
        """The share's config, and the format its `.fog/` is in."""
        path = self.dir / "config.json"
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotAShareError(f"{self.root} is not a fog share") from None
        except OSError as exc:
            raise FogError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise FogError(f"{path} is unreadable ({exc}){self._fix()}") from None
        found = doc.get("format") if isinstance(doc, dict) else None
        if isinstance(doc, dict) and found not in READABLE_FORMATS:
            known = ", ".join(map(str, READABLE_FORMATS))
            raise FogError(f"{path}: unsupported repository format {found!r} (this fog reads formats {known})")
        try:
            return _share_config(doc), found
        except (ValueError, KeyError, TypeError) as exc:
            raise FogError(f"{path} is unreadable ({exc}){self._fix()}") from None

    def _fix(self) -> str:
        """How to repair a damaged config.json (its remote URL may be unreadable too)."""
        return (
            f"; fix it by hand, or move {self.dir} out of the share and run "
            f"`fog clone URL {self.root} --into-existing` to rebuild it from the remote, keeping your files"
        )

    def _check_db(self) -> None:
        """A share's database exists once the share does: missing or empty, its history is gone, and
        opening it would make an empty one (every file new, every change elsewhere a conflict)."""
        db = self.dir / "db"
        try:
            size = os.stat(db / "data.mdb").st_size
        except NotADirectoryError:
            raise FogError(f"{db} is not a directory: the share database is damaged{self._recovery()}") from None
        except FileNotFoundError:
            size = 0
        except OSError as exc:
            raise FogError(f"cannot read {db / 'data.mdb'}: {exc.strerror}") from None
        if size == 0:
            raise FogError(f"{db / 'data.mdb'} is missing or empty: the share's history is lost{self._recovery()}")

    def _recovery(self) -> str:
        """The end of the line that reports a damaged database: how to rebuild `.fog/` in place."""
        urls = self.config.remotes
        url = urls.get("origin") or next((urls[n] for n in sorted(urls)), "URL")
        return (
            f"; move {self.dir} out of the share (e.g. mv {self.dir} {self.root}.fog-damaged) and run "
            f"`fog clone {url} {self.root} --into-existing` to rebuild it from the remote, keeping your files"
        )

    def save_config(self) -> None:
        write_private(self.dir / "config.json", json.dumps(self.config.to_json(), indent=1).encode())

    def remote_url(self, name: str | None = None) -> tuple[str, str]:
        """(name, URL) of a remote; the default is 'origin' or the only one."""
        remotes = self.config.remotes
        if name is None:
            name = "origin" if "origin" in remotes else next(iter(sorted(remotes)), None)
        if name is None:
            raise FogError("this device uses no remote of this share: see `fog remote list`, `fog remote unskip`")
        if name not in remotes:
            raise FogError(f"no remote named {name!r} in use on this device (see `fog remote list`)")
        return name, remotes[name]

    def tmp_dir(self) -> Path:
        path = self.dir / "tmp"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def close(self) -> None:
        self.db.close()
        self.lock.release()

    def __enter__(self) -> Share:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
