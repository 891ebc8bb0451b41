"""Messages that named the wrong thing (attacker review, minor items)."""

from __future__ import annotations

import os

import pytest
from fogcli import Share


def test_diff_and_cat_name_what_a_version_is(share: Share) -> None:
    share.write("d/a.txt", "a\n")
    share.write("f.txt", "f\n")
    os.symlink("d", share.root / "ln")
    share.push()
    (share.root / "f.txt").unlink()
    share.push()
    line = share.fog("diff", "ln@~0", "d@~0", expect=1).one_line_error()
    assert "ln@" in line and "is a symlink" in line and "d@" in line and "is a directory" in line, line
    assert "ln is a directory" not in line
    line = share.fog("cat", "f.txt", expect=1).one_line_error()
    assert line.startswith("fog: f.txt is deleted at that version (") and "a deleted" not in line, line
    assert "is a directory, not a file" in share.fog("cat", "d", expect=1).one_line_error()
    assert "is a symlink, not a file" in share.fog("cat", "ln", expect=1).one_line_error()
    assert share.fog("cat", "f.txt@~1").out == "f\n"


def test_log_of_a_file_with_a_config_that_is_not_an_object_is_one_line(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path (fog.cli.fast) said "internal error: AttributeError: 'list' object has no attribute 'get'"."""
    share.write("f.txt", "f\n")
    share.push()
    config = share.root / ".fog" / "config.json"
    config.write_text("[]")
    for extra in ((), ("--json",)):
        fast = share.fog("log", "f.txt", *extra, expect=1, sub=True)
        assert "internal error" not in fast.err and "a JSON object was expected" in fast.one_line_error(), fast
        with monkeypatch.context() as m:
            m.setenv("FOG_NO_FAST", "1")
            full = share.fog("log", "f.txt", *extra, expect=1, sub=True)
        assert fast.err == full.err


def test_a_refused_deletion_in_the_middle_of_a_history_names_the_version_before_it(share: Share) -> None:
    """Review 5, retention R12: the hint was always `@~1`, which for a file deleted then made again is
    the very deletion refused."""
    share.write("f.txt", "one\n")
    share.push()
    (share.root / "f.txt").unlink()
    share.push()
    share.write("f.txt", "two\n")
    share.push()
    log = share.fog("log", "f.txt", "--json").json()
    assert [e["deleted"] for e in log] == [False, True, False]
    first = log[2]["version"][:12]
    for args in (("cat", "f.txt@~1"), ("restore", "f.txt@~1", "-o", str(share.root.parent / "x"))):
        line = share.fog(*args, expect=1).one_line_error()
        assert f"e.g. @{first}" in line and "@~1" not in line, line
    assert share.fog("cat", f"f.txt@{first}").out == "one\n"


def test_forget_does_not_call_the_file_sizes_it_forgot_released(share: Share) -> None:
    """Review 5, retention R10: "11.4 MiB of old versions released" when prune could free 230 KiB."""
    for n in range(3):
        share.write("f.txt", f"edit {n}\n" * 1000)
        share.push()
    out = share.fog("forget", "--keep-last", "1").out
    assert "released" not in out and "in file sizes (not what prune frees" in out, out


def test_check_does_not_blame_interrupted_pushes_for_forgotten_versions(share: Share) -> None:
    """Review 5, retention R11: after a forget, the note said the data was left by interrupted pushes."""
    for _n in range(2):
        share.write("f.bin", os.urandom(50_000))
        share.push()
    share.fog("forget", "--keep-last", "1")
    err = share.fog("check").err
    assert "forgotten versions' data, or left by interrupted pushes" in err, err
