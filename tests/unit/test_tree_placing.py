"""fog.sync.treerestore's placing: never over what appeared meanwhile, never through a symlink."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fog.sync import treerestore
from fog.sync.treerestore import _Dirs, _NotADir, _rename_new


@pytest.mark.parametrize("how", ["renameat2", "link", "look"])
def test_a_path_absent_at_planning_is_placed_only_if_still_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how != "renameat2":
        monkeypatch.setattr(treerestore, "_renameat2", None)
    if how == "look":  # a filesystem without hard links

        def no_links(*a: object, **k: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_links)
    d = tmp_path / "d"
    d.mkdir()
    (tmp_path / "tmp1").write_text("restored\n")
    (tmp_path / "tmp2").write_text("restored\n")
    (d / "mine").write_text("the user's, made meanwhile\n")
    os.symlink("target", tmp_path / "tmp3")
    with _Dirs(str(tmp_path)) as fds:
        assert _rename_new(str(tmp_path / "tmp1"), fds.fd("d"), "mine") is False
        assert _rename_new(str(tmp_path / "tmp2"), fds.fd("d"), "new") is True
        assert _rename_new(str(tmp_path / "tmp3"), fds.fd("d"), "link") is True
    assert (d / "mine").read_text() == "the user's, made meanwhile\n"
    assert (tmp_path / "tmp1").exists()  # (the caller removes it)
    assert (d / "new").read_text() == "restored\n" and not (tmp_path / "tmp2").exists()
    assert os.readlink(d / "link") == "target" and not os.path.lexists(tmp_path / "tmp3")


def test_a_directory_swapped_for_a_symlink_is_never_opened(tmp_path: Path) -> None:
    (tmp_path / "top" / "d" / "e").mkdir(parents=True)
    (tmp_path / "outside" / "e").mkdir(parents=True)
    with _Dirs(str(tmp_path / "top")) as fds:
        fds.fd("d/e")
        fds.close()  # what a later step does before it acts
        os.rename(tmp_path / "top" / "d", tmp_path / "top" / "d.moved")
        (tmp_path / "top" / "d").symlink_to(tmp_path / "outside")
        for make in (False, True):
            with pytest.raises(_NotADir, match="d is not a directory now"):
                fds.fd("d/e/new", make=make)
        (tmp_path / "top" / "f").write_text("a file\n")
        with pytest.raises(_NotADir, match="f is not a directory now"):
            fds.fd("f/x", make=True)
        fds.fd("n/m", make=True)
    assert os.listdir(tmp_path / "outside") == ["e"] and os.listdir(tmp_path / "outside" / "e") == []
    assert (tmp_path / "top" / "n" / "m").is_dir()
