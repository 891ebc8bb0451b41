"""Two devices named after the same host name (issue 19): clone picks a unique name, rename works."""

from __future__ import annotations

import os
from pathlib import Path

from test_multidevice import run_fog


def test_clone_on_a_second_host_with_the_same_name_picks_a_unique_one(tmp_path: Path) -> None:
    host = os.uname().nodename
    remote, key = tmp_path / "remote", tmp_path / "master.key"
    homes = [tmp_path / f"home{i}" for i in range(4)]
    run_fog(["init", tmp_path / "a", "--remote", remote, "--master-key-file", key], home=homes[0], cwd=tmp_path)
    r = run_fog(["clone", remote, tmp_path / "b", "--master-key-file", key], home=homes[1], cwd=tmp_path)
    assert f"as device '{host}-2'" in r.out
    assert f"another device is named {host!r} already" in r.err
    r = run_fog(["clone", remote, tmp_path / "c", "--master-key-file", key, "--json"], home=homes[2], cwd=tmp_path)
    assert r.json()["device"] == f"{host}-3"
    names = [d["name"] for d in run_fog(["device", "list", "--json"], home=homes[0], cwd=tmp_path / "a").json()]
    assert sorted(names) == sorted([host, f"{host}-2", f"{host}-3"])

    # two devices an older fog named alike: `device rename NAME` on one of them renames that one
    run_fog(
        ["clone", remote, tmp_path / "d", "--master-key-file", key, "--device-name", host], home=homes[3], cwd=tmp_path
    )
    r = run_fog(["device", "rename", host, "desk", "--json"], home=homes[3], cwd=tmp_path / "d")
    assert r.json()["name"] == "desk"
    r = run_fog(["device", "rename", host, "lap"], home=homes[0], cwd=tmp_path / "a")
    names = [d["name"] for d in run_fog(["device", "list", "--json"], home=homes[0], cwd=tmp_path / "a").json()]
    assert sorted(names) == sorted(["lap", "desk", f"{host}-2", f"{host}-3"])


def test_a_revoked_device_keeps_its_name_taken(tmp_path: Path) -> None:
    """A device revoked keeps its entry (and name) in the device list: a new clone does not take that
    name, so `device rename` and `log` still tell the two apart."""
    host = os.uname().nodename
    remote, key, key2 = tmp_path / "remote", tmp_path / "master.key", tmp_path / "master2.key"
    homes = [tmp_path / f"home{i}" for i in range(3)]
    a = tmp_path / "a"
    run_fog(["init", a, "--remote", remote, "--master-key-file", key], home=homes[0], cwd=tmp_path)
    r = run_fog(["clone", remote, tmp_path / "b", "--master-key-file", key, "--json"], home=homes[1], cwd=tmp_path)
    assert r.json()["device"] == f"{host}-2"
    run_fog(["device", "revoke", f"{host}-2", "--master-key-file", key2], home=homes[0], cwd=a)
    r = run_fog(["clone", remote, tmp_path / "c", "--master-key-file", key2, "--json"], home=homes[2], cwd=tmp_path)
    assert r.json()["device"] == f"{host}-3"
    listed = {d["name"]: d["revoked"] for d in run_fog(["device", "list", "--json"], home=homes[0], cwd=a).json()}
    assert listed == {host: False, f"{host}-2": True, f"{host}-3": False}
    # a revoked device's name is taken for a rename too
    r = run_fog(["device", "rename", f"{host}-3", f"{host}-2"], home=homes[0], cwd=a, expect=2)
    assert "already taken" in r.error_line()
    # a device named after a revoked one by an older fog (or by --device-name): its name finds it
    run_fog(
        ["clone", remote, tmp_path / "d", "--master-key-file", key2, "--device-name", f"{host}-2"],
        home=tmp_path / "home3",
        cwd=tmp_path,
    )
    r = run_fog(["device", "rename", f"{host}-2", "desk", "--json"], home=homes[0], cwd=a)
    assert r.json()["name"] == "desk" and not r.json()["revoked"]
