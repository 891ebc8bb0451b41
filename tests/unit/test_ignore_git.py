"""`.fogignore` rules decide as git decides for `.gitignore`: a table of rule sets and trees, and
generated ones, each checked against git itself (`git ls-files --others --ignored`) when git is
installed; explicit cases that fog once decided otherwise."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fog.sync.ignore import Ignore, _Rules

GIT = shutil.which("git")

# (rules, files): what git ignores of the files is what fog must ignore
TABLE: list[tuple[str, list[str]]] = [
    (
        "*\n!*/\n!*.txt\n!.fogignore\n!.gitignore\n",
        ["top.txt", "a.bin", "notes/n.txt", "notes/2026/dec.txt", "notes/x.o"],
    ),
    ("dir/**\n!dir/keep.txt\n", ["dir/keep.txt", "dir/junk", "dir/sub/keep.txt", "other/keep.txt"]),
    ("abc/**/\n", ["abc/x/y", "abc/z", "abc"[0:2] + "/q"]),
    ("[[:digit:]]*\n[\\]]x\n", ["1a", "b", "]x", "x]"]),
    ("[[:alpha:]][[:upper:]][[:space:]]x\n[[:punct:]]p\n", ["aB x", "ab x", "aB\tx", ".p", "ap"]),
    ("[[:foo:]]\n[a-\n[z-a]\n[z-ab]\n", ["b", "a", "z", "[z-a]"]),
    ("[!a-c]?\n", ["ab", "db", "d", "d/x"]),
    ("a/**/b\n", ["a/b", "a/x/b", "a/x/y/b", "b", "a/bb", "x/a/b"]),
    ("**/cache/\n", ["cache/f", "x/cache/f", "x/cache", "y/cachex/f"]),
    ("build/\n!build/keep\n", ["build/keep", "build/x", "sub/build/keep", "buildx"]),
    ("/top\n", ["top", "sub/top"]),
    ("doc/*.md\n", ["doc/a.md", "doc/sub/b.md", "x/doc/a.md"]),
    ("a**b\n**x\nfoo/**bar\n", ["ab", "a/b", "azb", "q/x", "foo/bar", "foo/zbar", "foo/z/bar"]),
    ("*.log\n!keep.log\nsub/*.log\n", ["a.log", "keep.log", "sub/keep.log", "sub/a.log"]),
    ("/**\n!keep\n", ["a", "keep", "d/keep"]),
    ("**/\n", ["a", "d/a"]),
    ("x/**/y/**/\n", ["x/y/z/f", "x/y/f", "x/a/y/b/c"]),
    ("trail \ntab\t\nesc\\ \n", ["trail", "trail ", "tab", "tab\t", "esc", "esc "]),
    ("\\#hash\n\\!bang\n#comment\n", ["#hash", "!bang", "#comment"]),
    ("d\n!d/f\n", ["d/f", "d/g"]),
    ("d/*\n!d/f\n", ["d/f", "d/g", "d/e/f"]),
    ("*/\n!a/\n", ["a/f", "b/f", "f"]),
    ("**/a/**/b\n", ["a/b", "x/a/y/b", "a/a/b/b", "b"]),
    ("\ufeffsecret.key\r\n*.tmp\r\n", ["secret.key", "a.tmp", "b"]),  # (a BOM, CRLF lines)
    ("a\rb\n", ["a\rb", "a"]),  # (a CR not before the LF is part of the name)
    # git compares a pattern's literal start apart: a `**` right after it is any directories
    ("x/a**\nfoo**/bar\n", ["x/ab/c/f", "x/a1", "x/b", "foo/q/bar/f", "fooz/bar", "foobar", "fo/bar"]),
    ("**/[/***/[[:x]\n", ["*", "[/ba/a ", "aa/]/*", "x", "ab"]),  # (a class holds the `/`s)
    ("a\\/b\n**\\/x\n", ["a/b", "x", "d/x", "ab"]),  # (an escaped `/` is a `/`)
]


def _git_ignored(root: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(root.parent), XDG_CONFIG_HOME=str(root.parent / "xdg"), GIT_CONFIG_NOSYSTEM="1")
    subprocess.run([GIT, "init", "-q", str(root)], check=True, env=env)  # type: ignore[list-item]
    out = subprocess.run(
        [GIT, "-C", str(root), "ls-files", "--others", "--ignored", "--exclude-standard", "-z"],  # type: ignore[list-item]
        check=True,
        env=env,
        capture_output=True,
    ).stdout
    return {os.fsdecode(p) for p in out.split(b"\0") if p}


def _build(root: Path, cases: list[tuple[str, list[str]]]) -> list[list[str]]:
    """Each case in a directory of its own (`cN/`), its rules both as `.gitignore` and `.fogignore`."""
    out = []
    for n, (rules, files) in enumerate(cases):
        top = root / f"c{n}"
        top.mkdir(parents=True)
        for name in (".gitignore", ".fogignore"):
            (top / name).write_bytes(rules.encode())
        made = [f"c{n}/.gitignore", f"c{n}/.fogignore"]
        for f in files:
            p = top / f
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
            except OSError:
                continue  # (a file where another case's path needs a directory)
            made.append(f"c{n}/{f}")
        out.append([m for m in made if (root / m).is_file()])
    return out


def _compare(root: Path, cases: list[tuple[str, list[str]]]) -> None:
    made = _build(root, cases)
    git = _git_ignored(root)
    rules = Ignore(root, defaults=())
    wrong = []
    for (text, _), files in zip(cases, made, strict=True):
        fog = {f for f in files if rules.ignored(f)}
        gits = {f for f in files if f in git}
        if fog != gits:
            wrong.append(f"rules {text!r}: fog only {sorted(fog - gits)}, git only {sorted(gits - fog)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_the_table_decides_as_git(tmp_path: Path) -> None:
    _compare(tmp_path / "tree", TABLE)


SEGS = ["a", "b", "*", "?", "**", "[ab]", "[!a]", "[[:alpha:]]", "[\\]]", "\\*", "a*", "*b", "[a-b]", "x"]
SEGS += ["[z-a]", "[a-]", "[[:x]", "a ", "a\\ ", "-", "[", "***", "a**", "[/a]", "a\\/b", "**\\"]
NAMES = ["a", "b", "ab", "ba", "]", "x", "*", "aa", "z", "-", "[", "a "]


def _generated(seed: int, count: int) -> list[tuple[str, list[str]]]:
    rnd = random.Random(seed)
    cases = []
    for _ in range(count):
        lines = []
        for _ in range(rnd.randint(1, 3)):
            line = "/".join(rnd.choice(SEGS) for _ in range(rnd.randint(1, 4)))
            line = rnd.choice(["", "", "/", "**/"]) + line + rnd.choice(["", "", "/", "/**", "/**/"])
            lines.append(rnd.choice(["", "", "!"]) + line)
        files = {"/".join(rnd.choice(NAMES) for _ in range(rnd.randint(1, 4))) for _ in range(8)}
        cases.append(("\n".join(lines) + "\n", sorted(files)))
    return cases


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_generated_rules_decide_as_git(tmp_path: Path) -> None:
    """300 rule sets made of `*`, `**`, `?`, classes and escapes, a leading or trailing `/` or `**`."""
    _compare(tmp_path / "tree", _generated(5, 300))


# (rules, ignored, not ignored): each fog once decided otherwise (review 5, S6 and S7)
EXPLICIT: list[tuple[str, list[str], list[str]]] = [
    ("\ufeffsecret.key\r\n*.tmp\r\n", ["secret.key", "a.tmp"], ["b"]),  # a BOM lost the first rule
    ("*\n!*/\n!*.txt\n", ["a.bin", "notes/x.o"], ["top.txt", "notes/n.txt", "notes/2026/dec.txt"]),
    ("dir/**\n!dir/keep.txt\n", ["dir/junk", "dir/sub/keep.txt"], ["dir/keep.txt"]),  # `dir/**` is not dir
    ("abc/**/\n", ["abc/x/y"], ["abc/z"]),  # `**/`: directories only
    ("x/**/y/**/\n", ["x/y/z/f", "x/a/y/b/c"], ["x/y/f"]),
    ("[[:digit:]]*\n[\\]]x\n", ["1a", "]x"], ["b", "x]"]),  # POSIX classes, escapes in a class
    ("[z-ab]\n[[:space:]]s\n", ["z", "b", " s", "\ts"], ["a", "y", "\vs"]),
    ("tab\t\nesc\\ \n", ["tab\t", "esc "], ["tab", "esc"]),  # trailing tabs and escaped spaces kept
]


@pytest.mark.parametrize(("rules", "ignored", "kept"), EXPLICIT)
def test_rules_decide_as_git_reads_them(tmp_path: Path, rules: str, ignored: list[str], kept: list[str]) -> None:
    (tmp_path / ".fogignore").write_bytes(rules.encode())
    ig = Ignore(tmp_path, defaults=())
    assert [p for p in ignored + kept if ig.ignored(p)] == ignored
    assert not ig.notices


# A reference without git: git's wildmatch (wildmatch.c, without its pruning) and dir.c's reading of a
# line, ported as directly as can be, slow (it backtracks) but only ever given short patterns.
_CLASSES = {
    "alnum": lambda c: c.isascii() and c.isalnum(),
    "alpha": lambda c: c.isascii() and c.isalpha(),
    "blank": lambda c: c in " \t",
    "cntrl": lambda c: 0 < ord(c) < 32 or ord(c) == 127,
    "digit": lambda c: c in "0123456789",
    "graph": lambda c: 33 <= ord(c) <= 126,
    "lower": lambda c: "a" <= c <= "z",
    "print": lambda c: 32 <= ord(c) <= 126,
    "punct": lambda c: 33 <= ord(c) <= 126 and not c.isalnum(),
    "space": lambda c: c in " \t\n\r",
    "upper": lambda c: "A" <= c <= "Z",
    "xdigit": lambda c: c in "0123456789abcdefABCDEF",
}


def _wild_class(p: str, i: int, tc: str) -> tuple[bool, int] | None:
    """wildmatch's `[`...`]` at p[i] against the character tc: (matched, index after ']'); None: abort."""
    i += 1
    if i >= len(p):
        return None
    negated = p[i] in "!^"
    if negated:
        i += 1
    prev, matched = "", False
    while True:
        if i >= len(p):
            return None
        pc = p[i]
        if pc == "\\":
            i += 1
            if i >= len(p):
                return None
            pc = p[i]
            matched |= tc == pc
        elif pc == "-" and prev and i + 1 < len(p) and p[i + 1] != "]":
            i += 1
            pc = p[i]
            if pc == "\\":
                i += 1
                if i >= len(p):
                    return None
                pc = p[i]
            matched |= prev <= tc <= pc
            pc = ""
        elif pc == "[" and p[i + 1 : i + 2] == ":":
            k = p.find("]", i + 2)
            if k < 0:
                return None
            if k - (i + 2) - 1 < 0 or p[k - 1] != ":":
                matched |= tc == "["
            else:
                name = p[i + 2 : k - 1]
                if name not in _CLASSES:
                    return None
                matched |= _CLASSES[name](tc)
                i, pc = k, ""
        else:
            matched |= tc == pc
        prev = pc
        i += 1
        if i < len(p) and p[i] == "]":
            return matched != negated, i + 1


def _wild(p: str, i: int, t: str, j: int, pathname: bool) -> bool:
    start = i
    while i < len(p):
        c = p[i]
        if c == "*":
            i += 1
            if i < len(p) and p[i] == "*":
                before = i - 2
                while i < len(p) and p[i] == "*":
                    i += 1
                if (before < start or p[before] == "/") and (i == len(p) or p[i] == "/" or p[i : i + 2] == "\\/"):
                    if i < len(p) and _wild(p, i + 1, t, j, pathname):
                        return True
                    slash = True
                else:
                    slash = False
            else:
                slash = not pathname
            if i == len(p):
                return slash or "/" not in t[j:]
            if not slash and p[i] == "/":
                k = t.find("/", j)
                if k < 0:
                    return False
                i, j = i + 1, k + 1
                continue
            for k in range(j, len(t) + 1):
                if not slash and "/" in t[j:k]:
                    break
                if _wild(p, i, t, k, pathname):
                    return True
            return False
        if j >= len(t):
            return False
        if c == "\\":
            i += 1
            if i >= len(p) or t[j] != p[i]:
                return False
            i += 1
        elif c == "?":
            if pathname and t[j] == "/":
                return False
            i += 1
        elif c == "[":
            r = _wild_class(p, i, t[j])
            if r is None or not r[0] or (pathname and t[j] == "/"):
                return False
            i = r[1]
        else:
            if t[j] != c:
                return False
            i += 1
        j += 1
    return j == len(t)


def _ref_decides(lines: list[str], path: str, is_dir: bool) -> bool | None:
    """dir.c's last_matching_pattern_from_list for one .gitignore at the top."""
    for line in reversed(lines):
        if not line or line.startswith("#"):
            continue
        end, k = None, 0
        while k < len(line):  # trim_trailing_spaces
            if line[k] == " ":
                end = k if end is None else end
            elif line[k] == "\\":
                k += 1
                if k >= len(line):
                    break
                end = None
            else:
                end = None
            k += 1
        pat = line if end is None else line[:end]
        ignore = not pat.startswith("!")
        pat = pat if ignore else pat[1:]
        if pat.endswith("/"):
            if not is_dir:
                continue
            pat = pat[:-1]
        if "/" not in pat:
            if _wild(pat, 0, path.rpartition("/")[2], 0, False):
                return ignore
        else:  # match_pathname: the literal start compared apart, wildmatch on the rest
            pat = pat.removeprefix("/")
            n = next((i for i, c in enumerate(pat) if c in "*?[\\"), len(pat))
            if path[:n] == pat[:n] and _wild(pat, n, path, n, True):
                return ignore
    return None


def _ref_ignored(lines: list[str], path: str, is_dir: bool) -> bool:
    parts = path.split("/")
    above = ["/".join(parts[:n]) for n in range(1, len(parts))]
    return any(_ref_decides(lines, d, True) for d in above) or bool(_ref_decides(lines, path, is_dir))


ATOMS = ["a", "b", "*", "?", "/", "**", "[ab]", "[a-b]", "[]a]", "[!a]", "[[:alpha:]]", "[\\]]", "[z-a]", "\\*"]
ATOMS += [".", "c", "!", "#", " ", "\\ ", "\t", "[", "[[:x]", "-", "\\/", "[/a]", "a**"]
PATH_NAMES = ["a", "b", "ab", "ba", "aab", "c", "a.b", "*", "bb", "]", "!a", "#", "a ", "a\t", "z", "[", "-"]


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=6).map("".join), min_size=1, max_size=3),
    st.lists(st.lists(st.sampled_from(PATH_NAMES), min_size=1, max_size=4), min_size=1, max_size=8),
    st.booleans(),
)
def test_rules_decide_as_gits_wildmatch_does(lines: list[str], paths: list[list[str]], is_dir: bool) -> None:
    """Without git: against a direct port of git's wildmatch and dir.c (above); ancestors as a walk meets them."""
    rules = _Rules("", lines)
    for parts in paths:
        path = "/".join(parts)
        above = ["/".join(parts[:n]) for n in range(1, len(parts))]
        fog = any(rules.decide(d, True) for d in above) or bool(rules.decide(path, is_dir))
        assert fog == _ref_ignored(lines, path, is_dir), (lines, path, is_dir)
