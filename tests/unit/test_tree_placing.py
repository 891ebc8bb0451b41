"""fog.sync.placing as a tree restore uses it: never over what appeared meanwhile, never through a symlink."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fog.sync import placing
from fog.sync.placing import LinkedParent, Parents, move_new
from fog.sync.treerestore import _made


@pytest.mark.parametrize("how", ["renameat2", "link", "look"])
def test_a_path_absent_at_planning_is_placed_only_if_still_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how != "renameat2":
        monkeypatch.setattr(placing, "_renameat2", False)
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
    with Parents(str(tmp_path)) as dirs:
        with pytest.raises(FileExistsError):
            move_new(str(tmp_path / "tmp1"), "mine", dst_dir_fd=dirs.fd("d"))
        move_new(str(tmp_path / "tmp2"), "new", dst_dir_fd=dirs.fd("d"))
        move_new(str(tmp_path / "tmp3"), "link", dst_dir_fd=dirs.fd("d"))
    assert (d / "mine").read_text() == "the user's, made meanwhile\n"
    assert (tmp_path / "tmp1").exists()  # (the caller removes it)
    assert (d / "new").read_text() == "restored\n" and not (tmp_path / "tmp2").exists()
    assert os.readlink(d / "link") == "target" and not os.path.lexists(tmp_path / "tmp3")


def test_directories_are_made_but_never_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "top" / "d" / "e").mkdir(parents=True)
    (tmp_path / "outside" / "e").mkdir(parents=True)
    with Parents(str(tmp_path / "top")) as dirs:
        _made(dirs, "d/e")
        dirs.close()  # what a later step does before it acts
        os.rename(tmp_path / "top" / "d", tmp_path / "top" / "d.moved")
        (tmp_path / "top" / "d").symlink_to(tmp_path / "outside")
        with pytest.raises(LinkedParent, match="d is a symlink now"):
            _made(dirs, "d/e/new")
        (tmp_path / "top" / "f").write_text("a file\n")
        with pytest.raises(LinkedParent, match="f is not a directory now"):
            _made(dirs, "f/x")
        _made(dirs, "n/m")
    assert os.listdir(tmp_path / "outside") == ["e"] and os.listdir(tmp_path / "outside" / "e") == []
    assert (tmp_path / "top" / "n" / "m").is_dir()
    assert (tmp_path / "top" / "n").stat().st_mode & 0o777 == 0o700
