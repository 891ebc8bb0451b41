"""Permission problems in `.fog/` and FOG_HOME are said as such, never called damage (review 6, crash C6).

fog runs as a normal user would (AS_A_USER: root without CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
what one `sudo fog sync` in a share leaves behind is files and directories this user cannot write.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_multidevice import World
from test_pull_hands_off import AS_A_USER


@pytest.fixture
def world(tmp_path: Path) -> World:
    if os.uname().sysname != "Linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux (capabilities dropped in the fog process)")
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def _line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_data_file_this_user_cannot_write_is_not_damage_and_reads_still_work(world: World) -> None:
    a = world.init("a")
    a.write("one.txt", "one\n")
    a.push()
    data = a.root / ".fog" / "db" / "data.mdb"
    os.chmod(data, 0o400)
    try:
        r = a.fog("log", "-n", "1", patch=AS_A_USER)  # a reader opens it read-only
        assert "one.txt" in r.out, r.out
        a.fog("ls", patch=AS_A_USER)
        r = a.fog("status", expect=1, patch=AS_A_USER)
        line = _line(r.err)
        assert f"{data} is not writable by you" in line and "mode 0400" in line, line
        assert "is damaged (" not in line and "--into-existing" not in line and "chown" in line, line
    finally:
        os.chmod(data, 0o600)
    a.fog("status", patch=AS_A_USER)


def test_a_fog_directory_this_user_cannot_read_is_named(world: World) -> None:
    a = world.init("a")
    fog_dir = a.root / ".fog"
    os.chmod(fog_dir, 0)
    try:
        r = a.fog("status", expect=1, patch=AS_A_USER)
    finally:
        os.chmod(fog_dir, 0o700)
    line = _line(r.err)
    assert f"{fog_dir} is not readable by you" in line and "not inside a fog share" not in line, line


def test_remote_add_with_fog_home_read_only_says_what_it_did(world: World) -> None:
    a = world.init("a")
    a.write("one.txt", "one\n")
    a.push()
    os.chmod(a.home, 0o500)
    try:
        r = a.fog("remote", "add", "second", world.tmp / "r2", expect=1, patch=AS_A_USER)
    finally:
        os.chmod(a.home, 0o700)
    line = _line(r.err)
    assert "published on origin, second" in line and f"FOG_HOME ({a.home}) is not writable by you" in line, line
    assert ".tmp-" not in line, line
    a.fog("pull", patch=AS_A_USER)
    assert "second" in a.fog("remote", "list", patch=AS_A_USER).out
