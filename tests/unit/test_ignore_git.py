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

from fog.sync.ignore import Ignore

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
NAMES = ["a", "b", "ab", "ba", "]", "x", "*", "aa"]


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
