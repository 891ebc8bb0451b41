"""The scripting contract across devices (issue 6): clone and device --json,
FOG_MASTER_KEY_COMMAND, `log --device`, and --max-delete on the pulling side.

Each device has its own FOG_HOME and every command is its own process
(test_multidevice's World and Device).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_multidevice import OLD_MTIME_NS, Device, Run, World, make_pair, run_fog


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, tmp_path / "remote", tmp_path / "master.key")


def json_error(r: Run, code: int, kind: str | None = None) -> dict[str, Any]:
    """Under --json, a failure is one JSON object on one line of stderr, nothing on stdout."""
    assert r.rc == code and r.out == "", str(r)
    err = json.loads(r.error_line())
    assert {"code", "kind", "message"} <= set(err) and err["code"] == code, err
    if kind is not None:
        assert err["kind"] == kind, err
    return err


DEVICE_FIELDS = {"id", "name", "trusted", "revoked", "this_device", "last_batch"}
ROTATION_FIELDS = {"epoch", "master_key", "revoked", "following", "remotes", "failed"}


def test_clone_and_device_commands_json(world: World) -> None:
    a = world.init("laptop")
    a.write("doc.txt", "hello\n")
    a.push()
    b = world.device("desktop")
    r = run_fog(
        ["clone", world.remote, b.root, "--master-key-file", world.key, "--device-name", "desktop", "--json"],
        home=b.home,
        cwd=world.tmp,
    )
    d = json.loads(r.out)
    assert {"root", "share_id", "name", "remote", "device", "pull"} <= set(d)
    assert (d["root"], d["remote"], d["device"]) == (str(b.root), str(world.remote), "desktop")
    assert {"batches", "versions", "updated", "deleted", "conflicts", "kept", "problems", "remote_errors"} <= set(
        d["pull"]
    )
    assert d["pull"]["updated"] == ["doc.txt"] and d["pull"]["versions"] == 1
    assert (b.root / "doc.txt").read_text() == "hello\n"
    # cloning into a non-empty directory: the error as JSON
    c = world.device("phone")
    c.root.mkdir()
    (c.root / "x").write_text("x")
    r = run_fog(
        ["clone", world.remote, c.root, "--master-key-file", world.key, "--json"],
        home=c.home,
        cwd=world.tmp,
        expect=1,
    )
    json_error(r, 1)

    devs = json.loads(a.fog("device", "list", "--json").out)
    assert all(DEVICE_FIELDS <= set(x) for x in devs)
    assert {x["name"]: x["this_device"] for x in devs} == {"laptop": True, "desktop": False}
    d = json.loads(a.fog("device", "rename", "desktop", "pc", "--json").out)
    assert DEVICE_FIELDS <= set(d) and d["name"] == "pc" and not d["revoked"]
    d = json.loads(a.fog("device", "revoke", "pc", "--json").out)
    assert ROTATION_FIELDS <= set(d) and d["revoked"] == ["pc"] and d["epoch"] == 1 and d["master_key"]
    assert {x["name"]: x["revoked"] for x in json.loads(a.fog("device", "list", "--json").out)} == {
        "laptop": False,
        "pc": True,
    }
    json_error(a.fog("device", "revoke", "nosuch", "--json", expect=None), 1)
    json_error(a.fog("device", "rename", "nosuch", "x", "--json", expect=None), 1)


# -- secrets for automation ---------------------------------------------------------------------


def clone_with(world: World, name: str, command: str, *extra: str, expect: int = 0) -> tuple[Device, Run]:
    d = world.device(name)
    r = run_fog(
        ["clone", world.remote, d.root, "--device-name", name, *extra],
        home=d.home,
        cwd=world.tmp,
        env={"FOG_MASTER_KEY_COMMAND": command},
        expect=expect,
    )
    return d, r


def test_master_key_command(world: World) -> None:
    a = world.init("laptop")
    a.write("doc.txt", "hello\n")
    a.push()
    key = shlex.quote(str(world.key))

    b, _ = clone_with(world, "desktop", f"cat {key}")
    assert b.tree() == a.tree()
    # the first line of the output is the key (pass show prints more lines after it)
    c, _ = clone_with(world, "phone", f"sh -c 'cat {key}; echo url: example.org'")
    assert c.tree() == a.tree()
    # run by the shell, as git runs credential helpers: pipes and variables work
    e, _ = clone_with(world, "tablet", f"KEYFILE={key}; cat \"$KEYFILE\" | tr -d ' ' | head -1")
    assert e.tree() == a.tree()
    names = {x["name"] for x in json.loads(a.fog("device", "list", "--json").out)}
    assert names == {"laptop", "desktop", "phone", "tablet"}

    # a failing, missing or lying command: exit 1, one line, nothing made
    for name, command, words in (
        ("t1", "false", ["FOG_MASTER_KEY_COMMAND", "exited 1"]),
        ("t2", "sh -c 'echo locked >&2; exit 3'", ["exited 3", "locked"]),
        ("t3", "/nonexistent/secret-tool lookup fog master", ["FOG_MASTER_KEY_COMMAND"]),
        ("t4", "echo AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH", ["master key"]),
        ("t5", "true", ["master key"]),
    ):
        d, r = clone_with(world, name, command, expect=1)
        line = r.error_line()
        assert line.startswith("fog: ") and all(w in line for w in words), line
        assert r.out == ""
        assert not d.root.exists() and list(d.home.iterdir()) == [], name
    _, r = clone_with(world, "t6", "false", "--json", expect=1)
    json_error(r, 1, "identity")

    # FOG_MASTER_KEY_FILE and --master-key-file work as well; the key is never a value
    d = world.device("t7")
    r = run_fog(
        ["clone", world.remote, d.root, "--master-key", world.key.read_text().strip()],
        home=d.home,
        cwd=world.tmp,
        expect=2,
    )
    assert "--master-key" in r.err and r.out == "" and not d.root.exists()


# -- log --device ---------------------------------------------------------------------------


def test_log_device_filter(world: World) -> None:
    a, b = make_pair(world)
    b.write("from-desktop.txt", "b\n", mtime_ns=OLD_MTIME_NS)
    b.write("doc.txt", "desktop's edit\n")
    b.push()
    a.pull()
    a.write("from-laptop.txt", "a\n")
    a.push()

    def log(*args: str) -> list[dict[str, Any]]:
        return json.loads(a.fog("log", "--json", *args).out)

    everything = log()
    assert {e["device"] for e in everything} == {"laptop", "desktop"}
    desktop = log("--device", "desktop")
    assert sorted(e["path"] for e in desktop) == ["doc.txt", "from-desktop.txt"]
    assert all(e["device"] == "desktop" for e in desktop)
    desktop_id = desktop[0]["device_id"]
    assert log("--device", desktop_id) == desktop
    assert log("--device", desktop_id[:6]) == desktop
    laptop = log("--device", "laptop")
    assert len(laptop) + len(desktop) == len(everything)
    assert laptop[0]["path"] == "from-laptop.txt"
    assert log("--device", "laptop", "-n", "1") == laptop[:1]
    assert [e["device"] for e in log("doc.txt", "--device", "desktop")] == ["desktop"]
    assert [e["device"] for e in log("doc.txt", "--device", "laptop")] == ["laptop"]
    assert log("--device", "nosuch") == []
    # the table too
    table = a.fog("log", "--device", "desktop").out.splitlines()  # each push's line, then its versions
    versions = [line for line in table if line.startswith("    ")]
    assert len(versions) == 2 and all(" desktop " in line for line in table)


# -- --max-delete when pulling ---------------------------------------------------------------


def test_max_delete_refuses_to_apply_a_mass_deletion(world: World) -> None:
    a = world.init("laptop")
    files = {f"f{i:02}.txt": f"file {i}\n" for i in range(20)}
    for rel, data in files.items():
        a.write(rel, data, mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    assert b.tree() == a.tree()

    for i in range(15):
        (a.root / f"f{i:02}.txt").unlink()
    a.fog("push", expect=1).error_line()  # A's own guard first
    a.fog("push", "--max-delete", "100%")
    batches = world.log_files()

    before = b.tree()
    for args in (["sync"], ["sync", "--quiet"], ["pull"], ["pull", "--max-delete", "14"]):
        r = b.fog(*args, expect=1)
        line = r.error_line()
        assert "15" in line and "--max-delete" in line, line
        assert r.out == ""
        assert b.tree() == before  # every file is still there
    json_error(b.fog("sync", "--json", expect=None), 1)
    assert world.log_files() == batches  # B published nothing
    assert json.loads(b.fog("status", "--json").out)["clean"] is True

    # once asked to, B applies it
    r = b.fog("sync", "--max-delete", "100%", "--json")
    assert len(json.loads(r.out)["pull"]["deleted"]) == 15
    assert b.tree() == a.tree() and sorted(b.tree()) == [f"f{i}.txt" for i in range(15, 20)]


def _photos_and_notes(world: World) -> tuple[Device, Device]:
    """A laptop with 30 photos in photos/ and 10 notes, pushed, and a desktop's clone of it."""
    a = world.init("laptop")
    for i in range(30):
        a.write(f"photos/p{i:02}.jpg", f"photo {i}\n", mtime_ns=OLD_MTIME_NS)
    for i in range(10):
        a.write(f"n{i}.txt", f"note {i}\n", mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    return a, b


def test_a_renamed_directory_is_not_a_mass_deletion(world: World) -> None:
    """`mv photos Photos` on one device: its push was refused (30 "deletions"), and once forced every other
    device's cron `sync` refused the pull at every run, and skipped its own push with it, until someone
    ran --max-delete 100% there (review 5, semantics S2). A file that arrives at its new path, byte for
    byte, is moved, not lost; a real mass deletion is still refused."""
    a, b = _photos_and_notes(world)
    (a.root / "photos").rename(a.root / "Photos")
    a.fog("push")
    b.fog("sync", "--quiet")
    assert b.tree() == a.tree() and not (b.root / "photos").exists()
    for i in range(30):  # moved on the pulling side too, by content: B renames them in its own way
        os.rename(b.root / "Photos" / f"p{i:02}.jpg", b.root / f"p{i:02}.jpg")
    os.rmdir(b.root / "Photos")
    b.fog("sync", "--quiet")
    a.fog("sync", "--quiet")
    assert a.tree() == b.tree()
    for i in range(30):
        (a.root / f"p{i:02}.jpg").unlink()
    assert "--max-delete" in a.fog("push", expect=1).error_line()


def _refused_then_applied(b: Device, deleted: int, files: int) -> None:
    """B's default pull refuses the mass deletion (nothing of it is applied); once forced, it applies it."""
    before = b.tree()
    line = b.pull(expect=1).error_line()
    assert f"{deleted} deletions of {files} files" in line and "--max-delete" in line, line
    assert b.tree() == before
    b.fog("pull", "--max-delete", "100%")


def test_a_deleted_files_own_earlier_version_does_not_make_it_moved(world: World) -> None:
    """Review 6 F1: A ran `chmod +x *` and pushed, then `rm *` and pushed (forced). B, offline over both,
    pulled the chmod versions and the deletions at once: each deletion counted as "moved" because a
    version with the deleted file's content (its own chmod) arrived in the same pull, and the default
    pull deleted every file. That version ends deleted at the very path it was at: nothing moved."""
    a = world.init("laptop")
    for i in range(20):
        a.write(f"f{i:02}.txt", f"file {i}\n", mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    for i in range(20):
        os.chmod(a.root / f"f{i:02}.txt", 0o755)
    a.fog("push")
    for i in range(20):
        (a.root / f"f{i:02}.txt").unlink()
    a.fog("push", "--max-delete", "100%")
    _refused_then_applied(b, 20, 20)
    assert b.tree() == a.tree() == {}


def test_a_moved_directory_deleted_in_the_same_pull_is_a_mass_deletion(world: World) -> None:
    """Review 6 F1: A ran `mv photos Photos` and pushed, then `rm -r Photos` and pushed (forced). B pulled
    both at once: each deletion of photos/... counted as "moved" because the same content arrived at
    Photos/..., which the same pull deletes. Nothing of the photos is left anywhere after that pull."""
    a, b = _photos_and_notes(world)
    (a.root / "photos").rename(a.root / "Photos")
    a.fog("push")
    shutil.rmtree(a.root / "Photos")
    a.fog("push", "--max-delete", "100%")
    _refused_then_applied(b, 30, 40)
    assert b.tree() == a.tree() and sorted(b.tree()) == [f"n{i}.txt" for i in range(10)]


def test_a_renamed_directory_with_a_file_changed_before_is_moved(world: World) -> None:
    """A file changed (chmod), then its directory renamed, both pulled at once: the file arrives at its new
    path with the content it had, so the pull is not refused (the earlier version at the old path does not
    count twice, nor does it hide the move)."""
    a = world.init("laptop")
    for i in range(30):
        a.write(f"photos/p{i:02}.jpg", f"photo {i}\n", mtime_ns=OLD_MTIME_NS)
    a.push()
    b = world.clone("desktop")
    for i in range(30):
        os.chmod(a.root / "photos" / f"p{i:02}.jpg", 0o600)
    a.fog("push")
    (a.root / "photos").rename(a.root / "Photos")
    a.fog("push")
    b.pull()
    assert b.tree() == a.tree() and not (b.root / "photos").exists()
