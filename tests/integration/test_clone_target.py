"""A clone whose directory cannot be made fails before it adds this device to the user's devices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_multidevice import run_fog


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_a_clone_into_a_directory_that_cannot_be_made_enrols_no_device(tmp_path: Path, where: str) -> None:
    remote, key = tmp_path / "remote", tmp_path / "master.key"
    a, home = tmp_path / "a", tmp_path / "home"
    run_fog(["init", a, "--remote", remote, "--master-key-file", key, "--device-name", "one"], home=home, cwd=tmp_path)
    (tmp_path / "file").write_text("x")
    target = tmp_path / "file" / "sub" if where == "under-a-file" else Path("/proc/fog-test-no-such-dir/sub")
    r = run_fog(["clone", remote, target, "--master-key-file", key], home=tmp_path / "h2", cwd=tmp_path, expect=1)
    assert f"cannot make {target}" in r.error_line()
    names = [d["name"] for d in run_fog(["device", "list", "--json"], home=home, cwd=a).json()]
    assert names == ["one"]
    listed = tmp_path / "h2" / "checkouts.json"
    assert not listed.exists() or str(target) not in json.loads(listed.read_text()).values()


def test_a_clone_that_fails_after_making_its_directory_removes_it(tmp_path: Path) -> None:
    remote, key = tmp_path / "remote", tmp_path / "master.key"
    run_fog(["init", tmp_path / "a", "--remote", remote, "--master-key-file", key], home=tmp_path / "h", cwd=tmp_path)
    target = tmp_path / "new" / "deeper"
    patch = """
        import fog.store
        from fog.errors import FogError
        def refuse(self, *a, **k):
            raise FogError("the remote refused the write")
        fog.store.Remote.put_config = refuse
    """
    r = run_fog(
        ["clone", remote, target, "--master-key-file", key], home=tmp_path / "h2", cwd=tmp_path, expect=1, patch=patch
    )
    assert "refused the write" in r.error_line()
    assert not (tmp_path / "new").exists()
