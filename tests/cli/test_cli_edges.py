"""Small command-line edges (issue 19): help text, usage errors."""

from __future__ import annotations

from fogcli import Share, run_fog


def test_help_lists_commands_by_use_without_cutting_them(share: Share) -> None:
    out = run_fog(["--help"], share.root).out
    listed = [
        line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.startswith("  ") and line[2] != " "
    ]
    assert listed[:8] == ["status", "push", "pull", "sync", "log", "diff", "cat", "restore"]
    assert "..." not in out.split("Commands:")[1]  # every first sentence whole (diff's was cut)
    assert "sizes and\n" in out or "sizes and hashes" in out


def test_optional_arguments_are_bracketed_once(share: Share) -> None:
    for cmd, arg in (("push", "REMOTE"), ("pull", "REMOTE"), ("log", "PATH"), ("diff", "PATH@REV2")):
        out = run_fog([cmd, "--help"], share.root).out
        assert f"[{arg}]" in out and f"[[{arg}]]" not in out, cmd


def test_a_bad_count_is_one_usage_line(share: Share) -> None:
    r = share.fog("log", "-n", "x", expect=2)
    assert r.one_line_error() == "fog: -n 'x': give a whole number of versions, 0 or more"
    r = share.fog("log", "--max-count=-1", "--json", expect=2)
    assert "whole number" in r.err and "pydantic" not in r.err and "Input should be" not in r.err
