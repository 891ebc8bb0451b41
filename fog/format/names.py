"""The names a user gives: devices, shares, members. Pure: no I/O.

A name travels in the SyncConfig to every device of the user (and, for a
shared share, to its members), and is printed in `device list`, `log`,
`share members` and messages: a control character in it (a newline, an
escape sequence) could forge a line of another command's output, so a name
given here must print as itself. Names read from elsewhere are escaped for
display by the CLI instead (a malicious member can still write anything).
"""

from __future__ import annotations

from fog.errors import UsageError

NAME_MAX = 200  # characters: a name is a label, not a document


def check_name(what: str, name: str, *, path_safe: bool = False) -> str:
    """`name` if it is a valid name for `what` ("device name", "share name", ...); UsageError if not.

    Valid: not empty nor only spaces, at most NAME_MAX characters, every
    character printable (no control, format or separator character other
    than the space); with `path_safe`, also no '/' and not '.' or '..'.
    """
    if not name.strip():
        raise UsageError(f"{what} is empty")
    if len(name) > NAME_MAX:
        raise UsageError(f"{what} is longer than {NAME_MAX} characters")
    if not name.isprintable():
        raise UsageError(f"{what} '{shown(name)}' holds a control or unprintable character")
    if path_safe and ("/" in name or name in (".", "..")):
        raise UsageError(f"{what} {name!r} must not contain '/' nor be '.' or '..'")
    return name


def shown(text: str) -> str:
    """`text` with each unprintable character (control, format, line separator...) escaped as \\xNN,
    \\uNNNN or \\UNNNNNNNN: a name from the remote printed this way cannot forge a line of output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(c: str) -> str:
    """One unprintable character as an escape; a byte of a name that is not UTF-8 (os.fsdecode keeps it as
    U+DC80..U+DCFF) as the byte, \\xNN, which a shell's $'...' gives back (not Python's \\udcNN)."""
    if "\udc80" <= c <= "\udcff":
        return f"\\x{ord(c) - 0xDC00:02x}"
    return c.encode("unicode_escape").decode("ascii")
