"""Passwords in URLs never reach the terminal: `scheme://user:PASSWORD@host` prints as `user:***@host`.

A remote's URL may carry a password (an S3 endpoint `http://KEY:SECRET@host` in
its query, an sftp:// URL typed with one), and the messages of fog and of the
libraries under it repeat URLs ("Could not connect to the endpoint URL: ...").
fog.cli.main wraps stderr in RedactingStream, so every message is masked in one
place; every JSON document is masked as it is written (fog.cli.text.emit_json:
a remote's error message in `remote_errors` repeats its endpoint), and the
commands that print a remote's URL in text on stdout (`remote list`, `init`,
`stats`) mask it with `redact`. Imports nothing at the top: the fast path loads it.
"""

from __future__ import annotations

from fog.urlpass import may_hold, pattern

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


def redact(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (the user name stays: it says which)."""
    if not may_hold(text):
        return text
    return pattern().sub(r"\1***\2", text)


class RedactingStream:
    """A text stream that passes what is written through `redact` (stderr: every message, in one place)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, s: Any) -> int:
        if isinstance(s, str):
            self.inner.write(redact(s))
            return len(s)
        return self.inner.write(s)  # (bytes: the inner stream answers as it would, click probes with b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
