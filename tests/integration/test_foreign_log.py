"""A log no device in the SyncConfig owns, and an identity whose keys do not match (issue 15, item 11).

A foreign log is reported and set aside: every device's pull and every new
clone apply everything else and exit 0, reporting the log on stderr the first
time (always under --json); `check` lists it as a note. A device whose
identity.json holds a public key that is not its secret key's refuses to push.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_multidevice import Device, World, make_pair, run_fog


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Device, Device]:
    return make_pair(World(tmp_path, tmp_path / "remote", tmp_path / "master.key"))


def foreign_log(world: World, source: Path) -> Path:
    """Copy a device's log under a name no device's key derives: what a damaged identity pushed."""
    fake = source.parent / os.urandom(16).hex()
    shutil.copytree(source, fake)
    return fake


def test_foreign_log_is_reported_once_and_set_aside(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    fake = foreign_log(a.world, batch.parent)
    r = a.pull()  # exit 0: everything else is applied
    assert a.read("doc.txt") == "from the desktop\n"
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and fake.name[:12] in lines[0] and "no device" in lines[0], r.err
    again = a.pull()
    assert fake.name[:12] not in again.err  # reported once, not at every cron run
    doc = a.fog("pull", "--json").json()
    assert [f["log"] for f in doc["foreign_logs"]] == [fake.name]  # scripts always see it
    # a new device clones despite it
    home = a.world.tmp / "home-third"
    home.mkdir()
    r = run_fog(
        ["clone", a.world.remote, a.world.tmp / "third", "--master-key-file", a.world.key, "--device-name", "third"],
        home=home,
        cwd=a.world.tmp,
    )
    assert fake.name[:12] in r.err
    assert (a.world.tmp / "third" / "doc.txt").read_text() == "from the desktop\n"
    # check lists it, without failing
    r = a.fog("check")
    assert fake.name[:12] in r.out + r.err


def test_known_device_log_that_fails_verification_is_still_exit_4(pair: tuple[Device, Device]) -> None:
    a, b = pair
    b.write("doc.txt", "from the desktop\n")
    batch = b.push()
    assert batch is not None
    data = bytearray(batch.read_bytes())
    data[len(data) // 2] ^= 1
    batch.write_bytes(bytes(data))
    a.pull(expect=4)


def test_push_refuses_an_identity_whose_keys_do_not_match(pair: tuple[Device, Device]) -> None:
    from fog.crypto.seal import public_of

    _, b = pair
    path = b.home / "identity.json"
    doc = json.loads(path.read_text())
    doc["device"]["public"] = public_of(os.urandom(32)).hex()
    path.write_text(json.dumps(doc))
    b.write("doc.txt", "with a damaged identity\n")
    before = b.world.log_files()
    r = b.fog("push", expect=1)
    line = r.error_line()
    # (the device id covers the public key since signing keys: either check may be the one that fails)
    assert "identity.json" in line and ("public key" in line or "device id is not derived" in line), line
    assert b.world.log_files() == before
