"""Share-relative paths in JSON records: UTF-8 text, or base64 for names that are not UTF-8.

Kept apart from fog.format.version (and free of its imports) because the
start-up-critical `fog log` reader, fog.repo.history, decodes paths too.
"""

from __future__ import annotations

import os
import sys

# os.fsencode(path) for a str, without its checks: path.encode(FS_ENCODING, "surrogateescape")
# (a push encodes each changed path several times)
FS_ENCODING = sys.getfilesystemencoding()


def path_to_json(path: str) -> dict[str, str]:
    """Encode a share-relative path; non-UTF-8 names survive as base64."""
    raw = os.fsencode(path)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        import base64  # imported here: the `fog log` fast path rarely needs it

        return {"path_b64": base64.b64encode(raw).decode("ascii")}


def path_from_json(obj: dict[str, object]) -> str:
    """Invert path_to_json, returning the str form Python's os functions use."""
    if "path_b64" in obj:
        import base64

        return os.fsdecode(base64.b64decode(str(obj["path_b64"])))
    path = obj["path"]
    if not isinstance(path, str):
        raise ValueError("version path is not a string")
    return path
