"""Glob segments as regular expressions whose matching time stays polynomial whatever the pattern.

A path segment glob (`*`, `?`, `[abc]`, `[!a-z]`, `\\x`) translated naively
(`*` -> `[^/]*`) backtracks exponentially: `*a*a*a*a*a*a*a*a*a*a*a*a*b`
against a name of 60 'a's never finishes. As CPython's fnmatch.translate
does, each `*` but the last is followed by a fixed-length chunk and becomes
an atomic lazy group `(?>[^/]*?CHUNK)`: the chunk's leftmost occurrence is
taken and never revisited (a later star can absorb anything a later
occurrence would have skipped, so nothing is lost). Only the last `*`
backtracks, over one segment. A segment costs O(segment length x pattern
length) to match.

Shared by .fogignore rules (fog.sync.ignore) and policy override patterns
(fog.format.policy). Pure: no I/O.
"""

from __future__ import annotations

import re

STAR = None  # a `*` among the tokens of a segment


def class_end(seg: str, start: int) -> int:
    """The index of the ']' closing the class opened at `start`, or -1 (gitignore's rules, as pathspec's:
    after an optional `!`/`^`, a ']' first in the class is a member)."""
    i = start + 1
    if i < len(seg) and seg[i] in "!^":
        i += 1
    if i < len(seg) and seg[i] == "]":
        i += 1
    return seg.find("]", i)


def _class(inner: str) -> str:
    """A class body (between the brackets) as a regex class that never matches '/'.

    `-` keeps its meaning (ranges); every other character is literal (a backslash too, as pathspec
    reads it). ValueError for a range whose ends are reversed (`[z-a]`)."""
    negate = inner[:1] in ("!", "^")
    body = inner[1:] if negate else inner
    out = "".join("-" if ch == "-" else "\\\\" if ch == "\\" else re.escape(ch) for ch in body)
    regex = f"(?!/)[{'^' if negate else ''}{out}]"
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError(f"{exc.msg} in [{inner}]") from None
    return regex


def tokens(seg: str, *, lenient: bool) -> list[str | None]:
    """A segment as a list of one-character regexes and STARs (consecutive stars as one).

    ValueError for a reversed range (`[z-a]`), and unless `lenient` (then each is a literal
    character) for a trailing backslash or a '[' that no ']' closes."""
    out: list[str | None] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            if not out or out[-1] is not STAR:
                out.append(STAR)
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 < len(seg):
                i += 1
            elif not lenient:
                raise ValueError("a trailing backslash escapes nothing")
            out.append(re.escape(seg[i]))
        elif c == "[":
            end = class_end(seg, i)
            if end < 0:
                if not lenient:
                    raise ValueError("a '[' is not closed")
                out.append(re.escape(c))
            else:
                out.append(_class(seg[i + 1 : end]))
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return out


def segment(seg: str, *, lenient: bool = False) -> str:
    """One segment glob as a regex that matches within one path segment (never a '/').

    The regex is meant to be followed by what ends the segment (a '/', or the end): its last `*` then
    backtracks over one segment at most, and the others never do (module docstring)."""
    parts = tokens(seg, lenient=lenient)
    stars = [i for i, t in enumerate(parts) if t is STAR]
    if not stars:
        return "".join(t for t in parts if t is not STAR)
    out = "".join(t for t in parts[: stars[0]] if t is not STAR)
    for a, b in zip(stars, stars[1:], strict=False):
        out += "(?>[^/]*?" + "".join(t for t in parts[a + 1 : b] if t is not STAR) + ")"
    return out + "[^/]*" + "".join(t for t in parts[stars[-1] + 1 :] if t is not STAR)
