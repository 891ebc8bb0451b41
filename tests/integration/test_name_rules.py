"""Names given to devices, shares and members: no control characters in, none printed raw out (review 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_multidevice import run_fog

FORGED = "evil\nfog: fake error"


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    remote, key, home, a = tmp_path / "remote", tmp_path / "master.key", tmp_path / "home", tmp_path / "a"
    run_fog(["init", a, "--remote", remote, "--master-key-file", key, "--device-name", "one"], home=home, cwd=tmp_path)
    (a / "f.txt").write_text("x\n")
    run_fog(["push", "-q"], home=home, cwd=a)
    return remote, key, home, a


@pytest.mark.parametrize("bad", [FORGED, "tab\there", "\x1b[31mred", "rlo\u202eexe.txt", " ", ""])
def test_a_name_with_a_control_character_is_refused(tmp_path: Path, made: tuple, bad: str) -> None:
    remote, key, home, a = made
    runs = [
        (["init", tmp_path / "n", "--remote", tmp_path / "r2", "--device-name", bad], tmp_path / "h2"),
        (["init", tmp_path / "n", "--remote", remote, "--name", bad], home),
        (["clone", remote, tmp_path / "c", "--master-key-file", key, "--device-name", bad], tmp_path / "h3"),
        (["device", "rename", "one", bad], home),
        (["share", "invite", "--user", "fogpub-x", "--name", bad], home),
    ]
    for args, h in runs:
        r = run_fog(args, home=h, cwd=a if h == home else tmp_path, expect=2)
        line = r.error_line()
        assert line.startswith("fog: ") and "name" in line, r
        assert not (tmp_path / "n").exists() and not (tmp_path / "c").exists()
    names = [d["name"] for d in run_fog(["device", "list", "--json"], home=home, cwd=a).json()]
    assert names == ["one"]


def test_a_share_name_with_a_slash_is_refused(tmp_path: Path, made: tuple) -> None:
    remote, _, home, _ = made
    r = run_fog(["init", tmp_path / "n", "--remote", remote, "--name", "a/b"], home=home, cwd=tmp_path, expect=2)
    assert "'/'" in r.error_line()


def test_a_name_from_the_remote_is_printed_escaped(made: tuple) -> None:
    """A device (or member) that writes a control character into its name anyway (a patched client)
    cannot forge lines of another device's output."""
    _, _, home, a = made
    patch = "import fog.format.names as N\nN.check_name = lambda what, name, **kw: name\n"
    run_fog(["device", "rename", "one", FORGED], home=home, cwd=a, patch=patch)
    for args in (["device", "list"], ["log", "f.txt"], ["log"], ["log", "--pushes"]):
        r = run_fog(args, home=home, cwd=a)
        assert "evil\\nfog: fake error" in r.out, r
        assert not any(line.startswith("fog: fake") for line in (r.out + r.err).splitlines()), r
    r = run_fog(["device", "rename", FORGED, "x\x07"], home=home, cwd=a, expect=2)
    assert r.error_line().count("fog:") == 1
    assert [d["name"] for d in run_fog(["device", "list", "--json"], home=home, cwd=a).json()] == [FORGED]


def test_a_share_name_another_share_has_is_refused_and_an_id_picks_one(tmp_path: Path, made: tuple) -> None:
    remote, key, home, a = made
    r = run_fog(["init", tmp_path / "n2", "--remote", remote, "--name", "a"], home=home, cwd=tmp_path, expect=2)
    line = r.error_line()
    assert "a share named 'a'" in line and "--name" in line, line
    assert not (tmp_path / "n2").exists()
    r = run_fog(["init", tmp_path / "a2", "--remote", remote, "--name", "b"], home=home, cwd=tmp_path)
    # two shares named alike by an older fog: the ambiguity names their ids, and an id picks one
    patch = "import fog.api as A\nA._refuse_taken_share_name = lambda *a, **k: None\n"
    run_fog(["init", tmp_path / "n3", "--remote", remote, "--name", "a"], home=home, cwd=tmp_path, patch=patch)
    shares = json.loads((home / "syncconfig.json").read_text())["shares"]
    ids = sorted(sid for sid, s in shares.items() if s["name"] == "a")
    assert len(ids) == 2
    r = run_fog(
        ["clone", remote, tmp_path / "c", "--master-key-file", key, "--share", "a"],
        home=tmp_path / "h3",
        cwd=tmp_path,
        expect=2,
    )
    line = r.error_line()
    assert all(sid[:12] in line for sid in ids) and "id" in line, line
    r = run_fog(
        ["clone", remote, tmp_path / "c", "--master-key-file", key, "--share", ids[1][:12], "--json"],
        home=tmp_path / "h3",
        cwd=tmp_path,
    )
    assert r.json()["share_id"] == ids[1]
