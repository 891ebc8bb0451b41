"""One checkout of a share per device identity (`FOG_HOME/checkouts.json`).

A device identity has one log per share and remote. Two checkouts of one
share under one `FOG_HOME` would write that one log from two trees, under two
locks: a prune would take the pushes of one for the other's (docs/FORMAT.md,
section 14) and their batch numbers would collide. The file maps a share id
to the one directory that uses it; a checkout that was moved or deleted
gives way to the next one used.

An init records the share it is making (`FOG_HOME/init-<share id>`) before it
publishes it, until its checkout is recorded: what lets the same init, stopped
in between, finish that share, and only that one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fog.errors import FogError
from fog.repo.vault import read_home_file, write_private

FILE = "checkouts.json"


def claim(home: Path, share_id: str, root: Path) -> None:
    """Record `root` as this device's checkout of the share; FogError if another one is in use."""
    path = home / FILE
    here = str(root.resolve())
    data = _read(path)
    if data.get(share_id) == here:
        return
    refuse_other(home, share_id, root, data)
    data[share_id] = here
    raw = json.dumps(data, indent=1, sort_keys=True).encode()
    try:
        try:
            write_private(path, raw)
        except IsADirectoryError:  # damaged as any other way (it only repeats what the checkouts say): rebuilt
            os.rmdir(path)  # (only an empty one: a directory with something in it is the user's to move)
            write_private(path, raw)
    except OSError as exc:
        hint = "; move it away (fog rebuilds this file)" if path.is_dir() and not path.is_symlink() else ""
        raise FogError(f"cannot write {path}: {exc.strerror or exc}{hint}") from None


def refuse_other(home: Path, share_id: str, root: Path, data: dict | None = None) -> None:
    """FogError if this device has another checkout of the share in use than `root` (nothing is written:
    a clone asks before it makes anything)."""
    other = (_read(home / FILE) if data is None else data).get(share_id)
    if isinstance(other, str) and other != str(root.resolve()) and _is_checkout(Path(other), share_id):
        raise FogError(
            f"this device already has this share at {other}: one checkout per share and device (a second "
            "would write the same device log); use that one, move it here, or use another FOG_HOME"
        )


def _read(path: Path) -> dict:
    try:
        data = json.loads(read_home_file(path))
    except (OSError, ValueError):
        # none yet, or damaged (a FIFO, a link, a huge file are not read): it only records what the checkouts
        # themselves say, so it is rebuilt (the next claim replaces it)
        return {}
    return data if isinstance(data, dict) else {}


def existing(home: Path, share_id: str) -> Path | None:
    """This device's checkout of the share, if it has one that still holds it."""
    try:
        data = json.loads(read_home_file(home / FILE))
    except (OSError, ValueError):
        return None
    other = data.get(share_id) if isinstance(data, dict) else None
    return Path(other) if isinstance(other, str) and _is_checkout(Path(other), share_id) else None


def recorded(home: Path, share_id: str) -> Path | None:
    """Where this device last had its checkout of the share (whether or not it still holds it)."""
    other = _read(home / FILE).get(share_id)
    return Path(other) if isinstance(other, str) else None


def _is_checkout(root: Path, share_id: str) -> bool:
    try:
        doc = json.loads((root / ".fog" / "config.json").read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("share_id") == share_id and os.path.isdir(root)


# -- an init between publishing its share and making the checkout ------------------------------------------

INIT_PREFIX = "init-"


def init_started(home: Path, share_id: str, root: Path) -> None:
    """Record, before the share is published in the SyncConfig, that an init on this device is making it
    (in `root`): if it stops before its checkout, the same init run again finishes it (`init_stopped_here`).
    Another device's share of the same name, not pushed to yet, is never taken for it."""
    path = home / f"{INIT_PREFIX}{share_id}"
    try:
        write_private(path, f"{root}\n".encode())
    except OSError as exc:
        raise FogError(f"cannot write {path}: {exc.strerror or exc}") from None


def init_stopped_here(home: Path, share_id: str) -> bool:
    """Whether an init on this device published the share and was stopped before it recorded the checkout."""
    if not share_id or any(c not in "0123456789abcdef" for c in share_id):
        return False  # (a share id from a SyncConfig names no file but its own)
    return (home / f"{INIT_PREFIX}{share_id}").is_file()


def init_finished(home: Path, share_id: str) -> None:
    """Forget the init's record, its checkout made (claimed)."""
    try:
        (home / f"{INIT_PREFIX}{share_id}").unlink(missing_ok=True)
    except OSError:
        pass  # (left behind, it only names a share that has a checkout here: never resumed)
