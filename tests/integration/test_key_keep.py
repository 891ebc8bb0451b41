"""`fog key rotate --keep NAME` keeps trusted devices only (review 5, keys 10).

A name that matched a device revoked earlier was taken as "kept", and every other trusted device, the
one the user meant among them, was revoked for good (exit 0).
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_multidevice import World


def test_keep_refuses_a_revoked_device_and_revokes_nothing(tmp_path: Path) -> None:
    world = World(tmp_path, tmp_path / "remote", tmp_path / "master.key")
    desk = world.init("desktop")
    desk.write("a.txt", "a\n")
    desk.push()
    world.clone("laptop")
    work = world.clone("laptop-work")
    desk.fog("device", "revoke", "laptop", "--master-key-file", tmp_path / "k1")
    work.fog("pull")
    r = desk.fog("key", "rotate", "--keep", "laptop", "--master-key-file", tmp_path / "k2", expect=2)
    assert "revoked already" in r.error_line()
    assert not (tmp_path / "k2").exists()
    listed = {d["name"]: d["revoked"] for d in desk.fog("device", "list", "--json").json()}
    assert listed == {"desktop": False, "laptop": True, "laptop-work": False}, listed
    work.fog("pull")
