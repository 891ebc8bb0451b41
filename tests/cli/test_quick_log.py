"""fog.repo.history.quick_log, the `fog log FILE` reader that skips fog.api, agrees with fog.api.log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fogcli import Share

from fog import api
from fog.repo import history

_FIELDS = ("id", "path", "kind", "size", "mode", "mtime_ns", "time_ns", "device", "conflict", "parent", "deleted")


def _home() -> Path:
    return Path(os.environ["FOG_HOME"])


def _history(share: Share) -> None:
    share.write("a.txt", "one\n")
    share.write("dir/b.txt", "two\n")
    os.symlink("a.txt", share.root / "link")
    share.push()
    share.write("a.txt", "one, then two\n", mode=0o600)
    share.push()
    (share.root / "a.txt").unlink()
    share.push()


def test_quick_log_matches_the_full_reader(share: Share) -> None:
    _history(share)
    home = _home()
    for cwd, arg, limit in [
        (share.root, "a.txt", None),
        (share.root, "a.txt", 2),
        (share.root, "link", None),
        (share.root / "dir", "b.txt", None),
        (share.root / "dir", "../a.txt", 1),
    ]:
        quick = history.quick_log(str(home), str(cwd), arg, limit)
        full = api.log(home, cwd, arg, limit=limit)
        assert quick is not None, arg
        assert [(e.device_name, e.current) for e in quick] == [(e.device_name, e.current) for e in full]
        for q, f in zip(quick, full, strict=True):
            assert [getattr(q.version, n) for n in _FIELDS] == [getattr(f.version, n) for n in _FIELDS]
    kinds = [e.version.kind for e in history.quick_log(str(home), str(share.root), "a.txt", None) or []]
    assert kinds == ["deleted", "file", "file"]


def test_quick_log_leaves_everything_else_to_fog_api(share: Share, tmp_path: Path) -> None:
    _history(share)
    home = str(_home())
    root = str(share.root)
    assert history.quick_log(home, root, "dir", None) is None  # a directory lists what is below it
    assert history.quick_log(home, root, "no-such-file", None) is None  # fog.api words the error
    assert history.quick_log(home, root, "../outside", None) is None
    assert history.quick_log(home, root, ".fog/config.json", None) is None
    assert history.quick_log(home, str(tmp_path), "share/a.txt", None) is None  # not in a share
    assert history.quick_log(str(tmp_path / "no-home"), root, "a.txt", None) is None  # no identity
    # the root spelled with `..`: resolved, as fog.api resolves it (once refused by both)
    spelled = history.quick_log(home, root + "/dir/..", "a.txt", None)
    full = api.log(Path(home), Path(root + "/dir/.."), "a.txt")
    assert spelled is not None and [e.version.id for e in spelled] == [e.version.id for e in full]
    (share.root / ".fog" / "config.json").write_text('{"format": 99}')
    assert history.quick_log(home, root, "a.txt", None) is None  # a newer share format


def test_fog_log_imports_neither_fog_api_nor_pynacl(share: Share) -> None:
    _history(share)
    code = "import sys; from fog.cli import main; sys.argv = ['fog', 'log', 'a.txt', '--json']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    code += "print(sorted(m for m in sys.modules if m in ('fog.api', 'nacl', 'typer', 'dataclasses', 'typing')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=share.root, capture_output=True, text=True, check=True, env=os.environ
    ).stdout
    assert out.splitlines()[-1] == "[]", out


def test_push_imports_none_of_the_commands_it_does_not_run(share: Share) -> None:
    """fog.api imports pull, check, devices, inspect, remotes, restore and revs on first use (fog.lazy)."""
    share.write("a.txt", "one\n")
    code = "import sys; from fog.cli import main; sys.argv = ['fog', 'push', '-q']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    lazy = ("fog.sync.pull", "fog.sync.check", "fog.sync.devices", "fog.sync.inspect", "fog.sync.remotes")
    lazy += ("fog.sync.restore", "fog.repo.revs", "typer", "socket")
    code += f"print(sorted(m for m in sys.modules if m in {lazy!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=share.root, capture_output=True, text=True, check=True, env=os.environ
    ).stdout
    assert out.splitlines()[-1] == "[]", out
    assert [e["path"] for e in share.log("a.txt")] == ["a.txt"]  # the push did run


def test_log_of_the_share_top_is_the_log_of_the_share(share: Share) -> None:
    """`fog log .` at the top, `fog log ..` below it and the top's absolute path were refused ("does not
    name a file in the share"); they are the whole share, as `fog log`."""
    _history(share)
    for sub in (False, True):  # (the fast path runs in a fresh process)
        whole = share.fog("log", "--json", sub=sub).json()
        assert len(whole) >= 5
        assert share.fog("log", ".", "--json", sub=sub).json() == whole
        assert share.fog("log", str(share.root), "--json", sub=sub).json() == whole
        assert share.fog("log", "..", "--json", cwd=share.root / "dir", sub=sub).json() == whole
        assert share.fog("log", "..", cwd=share.root / "dir", sub=sub).out == share.fog("log", sub=sub).out
    outside = share.fog("log", "..", expect=2).one_line_error()
    assert "outside the share" in outside, outside
