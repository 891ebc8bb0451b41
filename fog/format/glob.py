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

Shared by .fogignore rules (fog.sync.ignore, whose classes are read as git's
wildmatch reads them) and policy override patterns (fog.format.policy). Pure:
no I/O.
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


def tokens(seg: str, *, lenient: bool, wildmatch: bool = False) -> list[str | None]:
    """A segment as a list of one-character regexes and STARs (consecutive stars as one).

    ValueError for a reversed range (`[z-a]`), and unless `lenient` (then each is a literal
    character) for a trailing backslash or a '[' that no ']' closes. `wildmatch`: classes as git's
    wildmatch reads them (wildmatch_class: escapes, POSIX names, a reversed range no error), for
    .fogignore rules; policy patterns keep the plain reading (every device must read a stored
    policy alike)."""
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
        elif c == "[" and wildmatch:
            regex, i = wildmatch_class(seg, i)
            out.append(regex)
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


# git's ctype (ASCII only; `/` is never matched by a class anyway), as its wildmatch uses them
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "blank": "\\t ",
    "cntrl": "\\x01-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\r ",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}


def wildmatch_class(seg: str, start: int) -> tuple[str, int]:
    """The class opened by the '[' at `start`, read as git's wildmatch reads it: (a regex matching one
    character but '/', the index of its closing ']').

    After an optional `!`/`^`, the first character is a member even if it is ']'; a backslash makes
    the next character a member (`[\\]]`); `a-z` is a range (its ends may be escaped), and as git
    reads it, its start is a member even when the range is reversed (`[z-a]` holds `z`);
    `[:digit:]` and the other POSIX names are git's ASCII classes. ValueError where git's wildmatch
    gives up on the whole pattern (an unclosed '[', an unknown `[:name:]`, a backslash at the end):
    such a pattern matches no path in git."""
    n = len(seg)
    j = start + 1
    negate = j < n and seg[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    prev = ""  # the previous member, which a '-' makes the start of a range ('' after a range or a class)
    while True:
        if j >= n:
            raise ValueError("a '[' is not closed")
        c = seg[j]
        if c == "\\":
            j, prev = _escaped(seg, j)
            items.append(re.escape(prev))
        elif c == "-" and prev and j + 1 < n and seg[j + 1] != "]":
            j += 1
            hi = seg[j]
            if hi == "\\":
                j, hi = _escaped(seg, j)
            if prev <= hi:
                items.append(f"{re.escape(prev)}-{re.escape(hi)}")
            prev = ""
        elif c == "[" and seg[j + 1 : j + 2] == ":":
            end = seg.find("]", j + 2)
            if end < 0:
                raise ValueError("a '[' is not closed")
            if end - (j + 2) < 1 or seg[end - 1] != ":":
                prev = "["  # no `:]`: a '[' like any other member
                items.append(re.escape(prev))
            else:
                name = seg[j + 2 : end - 1]
                if name not in _POSIX:
                    raise ValueError(f"no class [:{name}:]")
                items.append(_POSIX[name])
                prev = ""
                j = end
        else:
            prev = c
            items.append(re.escape(c))
        j += 1
        if j < n and seg[j] == "]":
            break
    return f"[^/{''.join(items)}]" if negate else f"(?!/)[{''.join(items)}]", j


def _escaped(seg: str, j: int) -> tuple[int, str]:
    """The character a backslash at `j` of a class escapes, and its index; ValueError when the class ends there."""
    j += 1
    if j >= len(seg):
        raise ValueError("a '[' is not closed")
    return j, seg[j]


def segment(seg: str, *, lenient: bool = False, wildmatch: bool = False) -> str:
    """One segment glob as a regex that matches within one path segment (never a '/').

    The regex is meant to be followed by what ends the segment (a '/', or the end): its last `*` then
    backtracks over one segment at most, and the others never do (module docstring)."""
    parts = tokens(seg, lenient=lenient, wildmatch=wildmatch)
    stars = [i for i, t in enumerate(parts) if t is STAR]
    if not stars:
        return "".join(t for t in parts if t is not STAR)
    out = "".join(t for t in parts[: stars[0]] if t is not STAR)
    for a, b in zip(stars, stars[1:], strict=False):
        out += "(?>[^/]*?" + "".join(t for t in parts[a + 1 : b] if t is not STAR) + ")"
    return out + "[^/]*" + "".join(t for t in parts[stars[-1] + 1 :] if t is not STAR)
