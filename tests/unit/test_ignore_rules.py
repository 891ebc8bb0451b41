"""Ignore rules and policy patterns: gitignore semantics kept, bounded matching time, bad lines left out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fog.format.policy import check_pattern
from fog.sync.ignore import Ignore

HOSTILE = """
import time
from fog.sync.ignore import _Rules
from fog.format.policy import matches
patterns = [
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b",
    "a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b/",
    "**/*a*a*a*a*a*/**/*a*a*a*a*a*/**/*a*a*a*a*a*/**/c",
    "[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*b",
    "a**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b",
    "**\\\\/a/**\\\\/a/**\\\\/a/**\\\\/a/**\\\\/a/**\\\\/a/**\\\\/a/**\\\\/b",
    "a/**/[[:alpha:]]*[[:alpha:]]*[[:alpha:]]*[[:alpha:]]*[[:alpha:]]*[[:alpha:]]*[[:alpha:]]*b/**/c",
]
paths = ["a" * 60, "/".join(["a"] * 60), "/".join(["a" * 30] * 20), "a" * 60 + "/" + "a" * 60]
for pattern in patterns:
    rules = _Rules("", [pattern])
    for path in paths:
        assert rules.decide(path, False) is None and rules.decide(path, True) is None
        assert not matches(pattern.rstrip("/"), path)
print("done")
"""


def test_no_pattern_makes_matching_hang(tmp_path: Path) -> None:
    """Exponential backtracking (`*a*a*...b`) and nested `**` never end on the old regexes; here the whole
    run takes milliseconds. (A generous timeout, not a wall-clock assertion.)"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HOSTILE)], capture_output=True, text=True, timeout=60, env=env
    )
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr


def test_bad_lines_are_left_out_once_each_and_the_others_apply(tmp_path: Path) -> None:
    (tmp_path / ".fogignore").write_text("!\n*.log\n\\\n[[:nosuch:]]\nsub/[\n!keep.log\n[z-a]\n")
    rules = Ignore(tmp_path)
    assert rules.ignored("a.log") and not rules.ignored("keep.log") and not rules.ignored("a.txt")
    assert rules.ignored("b.log") and rules.ignored("d/c.log")
    assert rules.ignored("z") and not rules.ignored("b")  # (`[z-a]` holds `z` as git reads it)
    assert [n.split(":")[0] for n in rules.notices] == [f".fogignore line {n}" for n in (1, 3, 4, 5)]


def test_only_a_regular_fogignore_in_a_directory_of_the_tree_is_read(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "real").mkdir(parents=True)
    (root / "real" / ".fogignore").write_text("*.log\n")
    (root / "link").symlink_to(root / "real")  # a link is not a directory of the tree: no rules read through it
    (root / "dir" / ".fogignore").mkdir(parents=True)
    rules = Ignore(root)
    assert rules.ignored("real/a.log") and not rules.ignored("link/a.log")
    assert not rules.ignored("dir/a.log")
    assert rules.notices == ["dir/.fogignore: not a regular file: its rules are not used"]


@pytest.mark.parametrize("pattern", ["x[z-a]", "[b-a]*", "a/**/[9-0]"])
def test_a_policy_pattern_with_a_reversed_range_is_a_value_error(pattern: str) -> None:
    with pytest.raises(ValueError, match="bad character range"):  # (was re.error: "internal error")
        check_pattern(pattern)


def test_a_stored_policy_with_a_reversed_range_is_refused_as_a_bad_policy() -> None:
    """Another device's SyncConfig can hold such a pattern: a ValueError (an unusable policy), not re.error."""
    from fog.format.policy import Policy

    with pytest.raises(ValueError, match="bad character range"):
        Policy.from_json({"overrides": [{"pattern": "x[z-a]", "keep-last": 1}]}, lenient=True)
