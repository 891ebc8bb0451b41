"""A password in a URL (`scheme://user:PASSWORD@host`, also percent-encoded in an s3 URL's `endpoint=`).

One pattern, two uses: fog.cli.redact masks it in what fog prints (`user:***@`),
and what goes to other users (an invitation's remote) carries the URL without
it (`user@`). Imports nothing at the top: the command line's fast path loads it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

_PATTERN: re.Pattern[str] | None = None


def pattern() -> re.Pattern[str]:
    """Groups: 1 the scheme, `://` and user up to its `:` (or `%3A`); 2 the `@` (or `%40`) after the password."""
    global _PATTERN
    if _PATTERN is None:
        import re

        _PATTERN = re.compile(
            # a scheme and its `://` (also percent-encoded, as in an s3 URL's `endpoint=` query), the user and
            # its `:`, then the password: up to the last `@` (or `%40`) before a `/`, a space or a quote
            r"([A-Za-z][A-Za-z0-9+.-]*(?:://|%3[Aa]%2[Ff]%2[Ff])[^\s/@:?#\"'<>]*(?::|%3[Aa]))[^\s/\"'<>]+(@|%40)"
        )
    return _PATTERN


def may_hold(text: str) -> bool:
    """False when `text` holds no URL with a password (the common case costs two searches)."""
    return ("@" in text or "%40" in text) and ("://" in text or "%2F%2F" in text.upper())


def without_password(url: str) -> str:
    """`url` with the password of every URL in it removed (`user:PASSWORD@host` -> `user@host`)."""
    if not may_hold(url):
        return url

    def keep_user(m: re.Match[str]) -> str:
        head = m.group(1)
        return (head[:-3] if head.endswith(("%3A", "%3a")) else head[:-1]) + m.group(2)

    return pattern().sub(keep_user, url)
