"""A share never holds FOG_HOME (review 7, new user: `fog init ~` pushed the device's keys, and a pull later
replaced one device's identity with another's). `init` and `clone` refuse a DIR that holds it; in a share
that holds it already (made by an older fog, or FOG_HOME moved in later) the scan never reads it and a pull
or restore never writes into it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fogcli import Share, run_fog


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# -- init and clone refuse a directory holding FOG_HOME ----------------------------------------


@pytest.mark.parametrize("through_link", [False, True])
def test_init_of_a_directory_holding_fog_home_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through_link: bool
) -> None:
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    if through_link:  # FOG_HOME spelled through a symlink that leads into the directory
        (tmp_path / "cfg").symlink_to(home_dir / ".config", target_is_directory=True)
        (home_dir / ".config").mkdir()
        fog_home = tmp_path / "cfg" / "fog"
    else:
        fog_home = home_dir / ".config" / "fog"
    monkeypatch.setenv("FOG_HOME", str(fog_home))
    (home_dir / "notes.txt").write_text("hi\n")
    r = run_fog(
        ["init", home_dir, "--remote", tmp_path / "usb", "--master-key-file", tmp_path / "mk"], tmp_path, expect=2
    )
    line = r.one_line_error()
    assert "holds FOG_HOME" in line and str(fog_home) in line and "set FOG_HOME" in line, line
    # nothing made: no checkout, no identity, no key file, no store
    assert not (home_dir / ".fog").exists() and not fog_home.exists()
    assert not (tmp_path / "mk").exists() and not (tmp_path / "usb").exists()
    # FOG_HOME's own directory as the share: refused too
    r = run_fog(["init", fog_home, "--remote", tmp_path / "usb"], tmp_path, expect=2)
    assert "holds FOG_HOME" in r.one_line_error()


def test_clone_into_a_directory_holding_fog_home_is_refused(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("a.txt", "a\n")
    share.push()
    other = share.tmp / "other"
    monkeypatch.setenv("FOG_HOME", str(other / ".config" / "fog"))
    r = run_fog(["clone", share.remote, other, "--master-key-file", share.key_file], share.tmp, expect=2)
    line = r.one_line_error()
    assert "holds FOG_HOME" in line and str(other / ".config" / "fog") in line, line
    assert not other.exists()
    r = run_fog(["clone", share.remote, other, "--invited", "--master-key-file", share.tmp / "k2"], share.tmp, expect=2)
    assert "holds FOG_HOME" in r.one_line_error()


# -- a share holding FOG_HOME already ------------------------------------------------------------


def _move_home_into(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """FOG_HOME moved into the share at `root`, as `.config/fog` (as the default FOG_HOME of `fog init ~`)."""
    inside = root / ".config" / "fog"
    inside.parent.mkdir(parents=True, exist_ok=True)
    if inside.exists():
        shutil.rmtree(inside)
    shutil.move(os.environ["FOG_HOME"], inside)
    monkeypatch.setenv("FOG_HOME", str(inside))
    return inside


def test_the_scan_never_reads_fog_home(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write(".config/other.conf", "x\n")
    share.push()
    _move_home_into(share.root, monkeypatch)
    doc = share.fog("status", "--json").json()
    assert not [p for p in doc["added"] if p.startswith(".config/fog")], doc
    assert ".config/fog: this device's FOG_HOME (its keys): never synced" in doc["skipped"], doc
    assert doc["clean"] and not doc["unread"]
    r = share.fog("push")
    assert r.err.count(".config/fog") == 1, r.err  # said once, not once per file
    assert "identity.json" not in r.out + r.err
    assert share.fog("log", "--json", ".config/fog/identity.json", expect=None).rc != 0  # never published


def test_a_pull_never_writes_into_fog_home(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """A share where an older fog published `.config/fog/` (stood in for by a file written there on device A):
    device B, whose FOG_HOME is that directory, records what arrives and writes none of it."""
    share.write(".config/fog/identity.json", "A's keys, pushed by an older fog\n")
    share.push()
    a_home = os.environ["FOG_HOME"]
    b_home = share.tmp / "home-b"
    monkeypatch.setenv("FOG_HOME", str(b_home))
    b = share.tmp / "b"
    run_fog(["clone", share.remote, b, "--master-key-file", share.key_file, "--device-name", "devb"], share.tmp)
    assert (b / ".config/fog/identity.json").read_text().startswith("A's keys")
    b_fog_home = _move_home_into(b, monkeypatch)  # B's FOG_HOME moves into its checkout, over what was pulled
    before = _files(b_fog_home)
    device = run_fog(["key", "show"], b).out.splitlines()[0]
    assert "devb" in device
    assert "Nothing to push" in run_fog(["push"], b).out  # (its indexed files are not "deleted")
    # A publishes a new version of the file, and a new one beside it
    monkeypatch.setenv("FOG_HOME", a_home)
    share.write(".config/fog/identity.json", "A's keys, changed\n")
    share.write(".config/fog/syncconfig.json", "{}\n")
    share.write("plain.txt", "p\n")
    share.push()
    monkeypatch.setenv("FOG_HOME", str(b_fog_home))
    r = run_fog(["pull"], b)
    assert (b / "plain.txt").read_text() == "p\n"
    assert _files(b_fog_home) == before, "the pull wrote into FOG_HOME"
    skipped = [line for line in r.err.splitlines() if ".config/fog" in line]
    assert len(skipped) == 1 and "FOG_HOME" in skipped[0] and "2 incoming path(s)" in skipped[0], r.err
    assert run_fog(["key", "show"], b).out.splitlines()[0] == device
    status = run_fog(["status", "--json"], b).json()
    assert not status["unapplied"] and status["clean"], status
    # restoring the tree in place leaves it alone too; a file of it, in place, is refused
    r = run_fog(["restore", ".@~1", "--force"], b, expect=None)
    assert _files(b_fog_home) == before, r
    r = run_fog(["restore", ".config/fog/identity.json"], b, expect=2)
    assert "FOG_HOME" in r.one_line_error() and "-o" in r.one_line_error()
    r = run_fog(["restore", ".config/fog", "--force"], b, expect=1)
    assert "FOG_HOME" in r.one_line_error()
    assert _files(b_fog_home) == before
    run_fog(["restore", ".config/fog/identity.json", "-o", share.tmp / "out.json"], b)
    assert (share.tmp / "out.json").read_text() == "A's keys, changed\n"


def test_a_share_that_is_fog_home_itself_is_refused(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """FOG_HOME's files moved to the share's root (FOG_HOME set to it): a command that opens the share stops
    (exit 2) before anything is read or pushed, naming what to do."""
    share.write("a.txt", "a\n")
    share.push()
    for p in Path(os.environ["FOG_HOME"]).iterdir():
        shutil.move(p, share.root / p.name)
    monkeypatch.setenv("FOG_HOME", str(share.root))
    for args in (["status"], ["push"], ["pull"]):
        line = share.fog(*args, expect=2).one_line_error()
        assert "is FOG_HOME itself" in line and "move FOG_HOME" in line, line
    assert len(share.log_files()) == 1  # nothing pushed
