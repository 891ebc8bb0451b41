"""Damaged or malformed local state gets one clear line, never a crash (issue 15, items 12, 13, 15)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from fogcli import Share


def _home() -> Path:
    return Path(os.environ["FOG_HOME"])


# -- item 12: a truncated data.mdb -----------------------------------------------------------


def _filled(share: Share) -> Path:
    for i in range(300):
        share.write(f"d{i % 7}/file-{i:04d}.txt", f"{i}\n" * 20)
    share.push()
    data = share.root / ".fog" / "db" / "data.mdb"
    assert data.stat().st_size > 16 * 4096
    return data


@pytest.mark.parametrize("command", [["status"], ["log", "d0/file-0000.txt"], ["log"], ["push"], ["pull"]])
def test_truncated_database_is_one_line_not_sigbus(share: Share, command: list[str]) -> None:
    data = _filled(share)
    os.truncate(data, data.stat().st_size // 2)
    r = share.fog(*command, expect=1, sub=True)
    line = r.one_line_error()
    assert "data.mdb" in line and "damaged" in line and "truncated" in line, line
    assert "--into-existing" in line and str(share.remote) in line, line


def test_database_with_broken_meta_pages_is_one_line(share: Share) -> None:
    data = _filled(share)
    with open(data, "r+b") as f:
        f.write(b"\0" * 8192)
    r = share.fog("status", expect=1, sub=True)
    line = r.one_line_error()
    assert "data.mdb" in line and "damaged" in line, line
    os.truncate(data, 100)
    line = share.fog("status", expect=1, sub=True).one_line_error()
    assert "data.mdb" in line and "damaged" in line, line


@pytest.mark.parametrize("how", ["missing", "empty", "no-db-dir", "db-is-a-file"])
@pytest.mark.parametrize("command", [["status"], ["push"], ["sync"], ["log", "d0/file-0000.txt"], ["ls"]])
def test_a_lost_database_is_one_line_not_an_empty_history(share: Share, how: str, command: list[str]) -> None:
    """Opened as new, a lost database made every file new and every change elsewhere a conflict, which the
    next sync pushed back over the other devices' edits."""
    import shutil

    data = _filled(share)
    if how == "missing":
        data.unlink()
    elif how == "empty":
        os.truncate(data, 0)
    else:
        shutil.rmtree(data.parent)
        if how == "db-is-a-file":
            data.parent.write_text("x\n")
    line = share.fog(*command, expect=1, sub=True).one_line_error()
    assert ".fog/db" in line and ("missing or empty" in line or "not a directory" in line), line
    assert "--into-existing" in line and str(share.remote) in line, line
    assert not data.exists() or data.stat().st_size == 0  # nothing made in its place


def _damaged_stat_page(data: Path) -> bytes:
    """The file with one page of the `stat` sub-database overwritten (found by trying each page)."""
    import lmdb

    good = data.read_bytes()
    for page in range(2, len(good) // 4096):
        bad = good[: page * 4096] + b"\xab" * 4096 + good[(page + 1) * 4096 :]
        data.write_bytes(bad)
        try:
            env = lmdb.open(str(data.parent), readonly=True, lock=False, max_dbs=20)
        except lmdb.Error:
            continue
        try:
            with env.begin() as txn:
                stat = env.open_db(b"stat", txn=txn, create=False)
                for _ in txn.cursor(stat):
                    pass
        except lmdb.Error:
            return bad
        finally:
            env.close()
    raise AssertionError("no page of stat found")


def test_a_damaged_page_inside_the_database_is_one_line(share: Share) -> None:
    data = _filled(share)
    data.write_bytes(_damaged_stat_page(data))
    for command in (["status"], ["push"]):
        line = share.fog(*command, expect=1, sub=True).one_line_error()
        assert "data.mdb" in line and "damaged" in line and "--into-existing" in line, line
        assert "internal error" not in line, line


def _last_leaf(data: Path, table: bytes) -> int:
    """The page number of the last leaf of named database `table` (the one a cursor reaches by stepping)."""
    import struct

    from fog.repo.dbpages import _named

    raw = data.read_bytes()
    meta = max((raw[:4096], raw[4096:8192]), key=lambda m: struct.unpack_from("=Q", m, 144)[0])
    (main,) = struct.unpack_from("=Q", meta, 128)
    found = _named(raw[main * 4096 : (main + 1) * 4096], table)
    assert found is not None
    page, depth = found
    assert depth >= 2, "the table fits in one leaf: no step to a sibling"
    for _ in range(depth - 1):
        branch = raw[page * 4096 : (page + 1) * 4096]
        (lower,) = struct.unpack_from("=H", branch, 12)
        (off,) = struct.unpack_from("=H", branch, 16 + 2 * ((lower - 16) // 2 - 1))
        lo, hi, high = struct.unpack_from("=HHH", branch, off)
        page = lo | hi << 16 | high << 32
    return page


@pytest.mark.parametrize(
    ("table", "walkers"), [(b"timeline", [["check"], ["log", "--pushes"]]), (b"stat", [["status"], ["push"]])]
)
def test_a_zeroed_leaf_a_walk_steps_to_is_one_line_not_an_abort(
    share: Share, table: bytes, walkers: list[list[str]]
) -> None:
    """LMDB checks the page a lookup lands on, not the next leaf a cursor steps to: a zeroed one there
    aborted the process (SIGABRT, "Assertion 'IS_LEAF(mp)' failed") in `fog check` and `log --pushes`."""
    data = _filled(share)
    page = _last_leaf(data, table)
    with open(data, "r+b") as f:
        f.seek(page * 4096)
        f.write(b"\0" * 4096)
    for command in [*walkers, ["pull"], ["ls"], ["device", "list"]]:
        r = share.fog(*command, expect=None, sub=True)
        assert r.rc in (0, 1) and (r.rc == 1 or command not in walkers), (command, str(r))
        if r.rc == 1:
            line = r.one_line_error()
            assert "data.mdb" in line and "damaged" in line and "--into-existing" in line, (command, line)


def _leaves(data: Path, table: bytes) -> list[int]:
    """The leaf pages of named database `table`, in key order."""
    import struct

    from fog.repo.dbpages import _named

    raw = data.read_bytes()
    meta = max((raw[:4096], raw[4096:8192]), key=lambda m: struct.unpack_from("=Q", m, 144)[0])
    (main,) = struct.unpack_from("=Q", meta, 128)
    found = _named(raw[main * 4096 : (main + 1) * 4096], table)
    assert found is not None
    level, depth = [found[0]], found[1]
    for _ in range(depth - 1):
        below = []
        for page in level:
            branch = raw[page * 4096 : (page + 1) * 4096]
            (lower,) = struct.unpack_from("=H", branch, 12)
            for i in range((lower - 16) // 2):
                (off,) = struct.unpack_from("=H", branch, 16 + 2 * i)
                lo, hi, high = struct.unpack_from("=HHH", branch, off)
                below.append(lo | hi << 16 | high << 32)
        level = below
    return level


_READ_EVERY_PATH = """
import sys
from pathlib import Path
from fog import api
from fog.errors import FogError
from fog.repo.history import quick_log
home, root, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
for path in paths:
    quick_log(home, root, path, None)
    for limit in (None, 1):
        try:
            api.log(Path(home), Path(root), path, limit=limit)
        except FogError as exc:
            print(exc)
"""


@pytest.mark.parametrize("table", [b"history", b"timeline", b"versions"])
def test_a_zeroed_leaf_a_lookup_steps_to_is_one_line_not_an_abort(share: Share, table: bytes) -> None:
    """A lookup by prefix (`set_range`, then the next keys) steps to the next leaf when its keys end a leaf:
    a zeroed leaf there aborted `fog log FILE`, `fog find` and `fog forget -n` inside LMDB (SIGABRT, "Assertion
    'IS_LEAF(mp)' failed"), where `status` and `check` said the database is damaged (review 6, C9)."""
    import subprocess
    import sys

    paths = [f"d{i % 7}/file-{i:04d}.txt" for i in range(300)]
    for n in range(3):  # several versions of each path: `history` and `timeline` span several leaves
        for i, path in enumerate(paths):
            share.write(path, f"{i} {n}\n" * 20)
        share.push()
    data = share.root / ".fog" / "db" / "data.mdb"
    good = data.read_bytes()
    leaves = _leaves(data, table)
    assert len(leaves) >= 3, leaves
    for page in (leaves[1], leaves[len(leaves) // 2]):  # (the first leaf is reached by a descent only: LMDB checks it)
        data.write_bytes(good[: page * 4096] + bytes(4096) + good[(page + 1) * 4096 :])
        run = [sys.executable, "-c", _READ_EVERY_PATH, os.environ["FOG_HOME"], str(share.root), *paths]
        r = subprocess.run(run, capture_output=True, text=True, cwd=share.root, timeout=300)
        assert r.returncode == 0, (table, page, r.returncode, r.stderr[-2000:])
        assert "Traceback" not in r.stderr, r.stderr
        for line in r.stdout.splitlines():
            assert "damaged" in line and "--into-existing" in line, line
        for command in (["find", "*.txt"], ["forget", "-n", "--keep-last", "1"]):
            got = share.fog(*command, expect=None, sub=True)
            assert got.rc in (0, 1), (table, page, command, str(got))
            if got.rc == 1:
                line = got.one_line_error()
                assert "data.mdb" in line and "damaged" in line and "--into-existing" in line, (command, line)
    data.write_bytes(good)
    share.fog("find", "*.txt")


def test_intact_database_still_opens(share: Share) -> None:
    _filled(share)
    share.fog("status")
    share.fog("log", "d0/file-0000.txt")


# -- item 13: malformed local files ------------------------------------------------------------


def _identity_doc() -> dict:
    return json.loads((_home() / "identity.json").read_text())


def _bad_identities() -> list[tuple[str, object]]:
    def device(**kw: object) -> object:
        def make(doc: dict) -> dict:
            doc["device"].update(kw)
            return doc

        return make

    return [
        ("list", lambda doc: []),
        ("null", lambda doc: None),
        ("device-5", lambda doc: {**doc, "device": 5}),
        ("secret-5", device(secret=5)),
        ("secret-abcd", device(secret="abcd")),
        ("public-short", device(public="00" * 31)),
        ("id-5", device(id=5)),
        ("name-list", device(name=[])),
        ("user-null", lambda doc: {**doc, "user": None}),
    ]


@pytest.mark.parametrize("name,change", _bad_identities(), ids=[n for n, _ in _bad_identities()])
def test_malformed_identity_is_one_line(share: Share, name: str, change) -> None:  # type: ignore[no-untyped-def]
    share.write("a.txt", "a\n")
    path = _home() / "identity.json"
    path.write_text(json.dumps(change(_identity_doc())))
    for command in (["push"], ["status"], ["log", "a.txt"]):
        line = share.fog(*command, expect=1).one_line_error()
        assert str(path) in line, line


@pytest.mark.parametrize("field", ["data_key", "mac_key"])
def test_wrong_length_key_in_cached_syncconfig(share: Share, field: str) -> None:
    share.write("a.txt", "a\n")
    path = _home() / "syncconfig.json"
    doc = json.loads(path.read_text())
    entry = next(iter(doc["shares"].values()))
    entry[field] = "ab" * 16
    path.write_text(json.dumps(doc))
    line = share.fog("push", expect=1).one_line_error()
    assert str(path) in line and "delete it" in line, line
    path.unlink()  # what the line says: the next push fetches the cache again
    share.push()
    assert share.log("a.txt")


def test_status_after_the_cached_syncconfig_was_deleted(share: Share) -> None:
    """README: syncconfig.json is a cache, delete it and fog fetches it again; status too."""
    share.write("a.txt", "a\n")
    share.push()
    share.write("b.txt", "b\n")
    path = _home() / "syncconfig.json"
    path.unlink()
    assert share.fog("status", "--json").json()["added"] == ["b.txt"]
    assert path.exists()
    path.unlink()  # and with the remote out of reach: one line that says what to do
    remote = Path(json.loads((share.root / ".fog" / "config.json").read_text())["remotes"]["origin"])
    remote.rename(remote.with_name("gone"))
    line = share.fog("status", expect=1).one_line_error()
    assert str(path) in line and "fog pull" in line, line


def test_wrong_length_user_key_in_cached_syncconfig(share: Share) -> None:
    path = _home() / "syncconfig.json"
    doc = json.loads(path.read_text())
    doc["user"]["public"] = "ab" * 5
    path.write_text(json.dumps(doc))
    line = share.fog("push", expect=1).one_line_error()
    assert str(path) in line, line


def test_non_utf8_master_key_files(share: Share, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"\xff\xfe\x00garbage\n")
    line = share.fog("clone", share.remote, tmp_path / "c", "--master-key-file", bad, expect=1).one_line_error()
    assert str(bad) in line, line
    line = share.fog(
        "clone", share.remote, tmp_path / "c", "--master-key-file", bad, expect=1, sub=True
    ).one_line_error()
    assert str(bad) in line, line
    home_key = _home() / "master-key"
    home_key.write_bytes(b"\xff\xfe\x00garbage\n")
    line = share.fog("push", expect=1).one_line_error()
    assert str(home_key) in line, line


@pytest.mark.parametrize(
    "doc",
    [
        [],
        None,
        {"format": 3, "share_id": "00" * 16, "name": "x", "remotes": [1]},
        {"format": 3, "share_id": "00" * 16, "name": "x", "remotes": {"origin": 5}},
        {"format": 3, "share_id": "00" * 16, "name": "x", "remotes": {}, "settings": []},
        {"format": 3, "share_id": "00" * 16, "name": "x", "remotes": {}, "settings": {"archive_max_bytes": "x"}},
        {"format": 3, "share_id": 5, "name": "x", "remotes": {}},
    ],
    ids=["list", "null", "remotes-list", "remote-int", "settings-list", "archive-bad", "share-id-int"],
)
def test_malformed_share_config_is_one_line(share: Share, doc: object) -> None:
    path = share.root / ".fog" / "config.json"
    if isinstance(doc, dict) and doc.get("share_id") == "00" * 16:
        doc["share_id"] = json.loads(path.read_text())["share_id"]
        doc.setdefault("remotes", {})
        if doc["remotes"] == {}:
            doc["remotes"] = {"origin": str(share.remote)}
    path.write_text(json.dumps(doc))
    for command in (["push"], ["status"]):
        line = share.fog(*command, expect=1).one_line_error()
        assert str(path) in line, line


# -- item 15: modes of .fog/ ---------------------------------------------------------------------


def _loose(root: Path) -> list[str]:
    """Entries of .fog/ (and of its db/) that another user could read (or list)."""
    out = []
    fog = root / ".fog"
    for p in [fog, *fog.iterdir(), *(fog / "db").iterdir()]:
        mode = p.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            out.append(f"{p.relative_to(root)} {oct(stat.S_IMODE(mode))}")
    return out


def test_new_share_is_private(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("a.txt", "a\n")
    share.push()
    assert _loose(share.root) == []
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-c"))  # another device: one checkout per device
    share.fog("clone", share.remote, tmp_path / "c", "--master-key-file", share.key_file)
    assert _loose(tmp_path / "c") == []


def test_existing_share_is_tightened_when_locked(share: Share) -> None:
    share.write("a.txt", "a\n")
    share.push()
    for p in [share.root / ".fog", *(share.root / ".fog").rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    share.fog("status")
    assert _loose(share.root) == []


def _loose_archive(root: Path) -> list[str]:
    archive = root / ".fog" / "archive"
    return [
        f"{p.relative_to(root)} {oct(stat.S_IMODE(p.lstat().st_mode))}"
        for p in [archive, *archive.rglob("*")]
        if stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


def test_the_local_archive_is_private_and_an_old_one_is_tightened(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """.fog/archive (the bytes a pull replaced): its files 0600 and its directories 0700 under umask 022, and
    an archive an older fog made with the umask's modes is tightened by the next pull."""
    old, home = os.umask(0o022), str(_home())
    try:
        share.write("a.txt", "first\n")
        share.push()
        monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-c"))
        share.fog("clone", share.remote, tmp_path / "c", "--master-key-file", share.key_file)
        archive = tmp_path / "c" / ".fog" / "archive"
        for n in range(2):
            monkeypatch.setenv("FOG_HOME", home)
            share.write("a.txt", f"edit {n}\n")
            share.push()
            monkeypatch.setenv("FOG_HOME", str(tmp_path / "home-c"))
            share.fog("-C", tmp_path / "c", "pull")
            assert [p for p in archive.rglob("*") if p.is_file()], "the pull archived nothing"
            assert _loose_archive(tmp_path / "c") == []
            for p in archive.rglob("*"):  # as an older fog left it
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
            assert _loose_archive(tmp_path / "c") != []
    finally:
        os.umask(old)


@pytest.mark.parametrize(("name", "make"), [("lock", "dir"), ("tmp", "file"), ("archive", "file")])
def test_a_fog_entry_of_the_wrong_kind_is_named(share: Share, name: str, make: str) -> None:
    """`.fog/lock` a directory, `.fog/tmp` or `.fog/archive` a file: the system's "Is a directory: .../lock"
    or "File exists: .../tmp" became one line that says what to do; once moved away, fog goes on."""
    share.write("a.txt", b"a\n")
    share.push()
    path = share.root / ".fog" / name
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    path.mkdir() if make == "dir" else path.write_bytes(b"x")
    share.write("a.txt", b"b\n")
    line = share.fog("push", expect=1).one_line_error()
    assert f"{path} is not a" in line and "move it out of the share" in line, line
    shutil.rmtree(path) if make == "dir" else path.unlink()
    assert share.push()["modified"] == ["a.txt"]


@pytest.mark.parametrize(("name", "target"), [("lock", "notes.txt"), ("tmp", "outside"), ("archive", "outside")])
def test_a_fog_entry_that_is_a_symlink_is_refused_and_its_target_untouched(
    share: Share, tmp_path: Path, name: str, target: str
) -> None:
    """`.fog/lock` a symlink to a user file: every locking command wrote its pid into that file (truncated
    first), and the next push published the pid as the file's new version. `.fog/tmp` or `.fog/archive` a
    symlink to a directory outside the share: the sweep of leftovers reached there. Each is refused in one
    line, and what the link points to is left as it was."""
    share.write("notes.txt", b"precious data\n")
    share.push()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".fog-tmp-1-aaaaaaaa-00000001").write_bytes(b"not fog's\n")
    path = share.root / ".fog" / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(share.root / "notes.txt" if target == "notes.txt" else outside)
    line = share.fog("status", expect=1).one_line_error()
    assert f"{path} is not a" in line and "move it out of the share" in line, line
    assert (share.root / "notes.txt").read_bytes() == b"precious data\n"
    assert (outside / ".fog-tmp-1-aaaaaaaa-00000001").read_bytes() == b"not fog's\n"
    path.unlink()
    assert share.push()["modified"] == []
    assert (share.root / "notes.txt").read_bytes() == b"precious data\n"


def test_a_directory_named_like_a_temp_file_in_fog_tmp_does_not_stop_pulls(share: Share) -> None:
    """The sweep of a killed pull's temp files unlinked each: a directory of that name made every pull fail
    "Is a directory" (fog never makes one, but .fog/tmp is its own scratch space)."""
    share.write("a.txt", "a\n")
    share.push()
    odd = share.root / ".fog" / "tmp" / ".fog-tmp-1-deadbeef-00000003"
    (odd / "sub").mkdir(parents=True)
    (odd / "sub" / "f").write_text("x\n")
    share.fog("pull")
    assert not odd.exists()


def test_a_database_file_that_is_a_directory_names_it_and_the_way_out(share: Share) -> None:
    share.write("a.txt", "a\n")
    share.push()
    data = share.root / ".fog" / "db" / "data.mdb"
    data.unlink()
    data.mkdir()
    for command in (["status"], ["log", "a.txt"], ["push"]):
        line = share.fog(*command, expect=1, sub=True).one_line_error()
        assert "data.mdb" in line and "not a regular file" in line and "--into-existing" in line, line


def test_checkouts_json_that_is_an_empty_directory_is_rebuilt(share: Share) -> None:
    """FORMAT section 12 says the file is rebuilt if damaged: as a directory it stopped status, push and pull."""
    share.write("a.txt", "a\n")
    path = _home() / "checkouts.json"
    path.unlink()
    path.mkdir()
    share.fog("status")
    assert path.is_file() and str(share.root.resolve()) in path.read_text()
    path.unlink()
    path.mkdir()
    (path / "kept").write_text("x\n")  # not fog's to delete: one line that says what to do
    line = share.fog("push", expect=1).one_line_error()
    assert "checkouts.json" in line and "move it away" in line, line
    assert not [p for p in _home().iterdir() if p.name.startswith(".checkouts.json.tmp")]


@pytest.mark.parametrize("fast", [True, False])
def test_a_deleted_working_directory(share: Share, tmp_path: Path, fast: bool) -> None:
    """An absolute -C works from a deleted working directory; without one, one line says what to do."""
    import subprocess

    from fogcli import FOG, env

    share.write("a.txt", "a\n")
    e = env()
    if not fast:
        e["FOG_NO_FAST"] = "1"
    gone = tmp_path / "gone"
    fog = " ".join(FOG)
    for args, rc in ((f"-C {share.root} status", 0), (f"-C {share.root} sync", 0), ("status", 1), ("-C x status", 1)):
        gone.mkdir()
        proc = subprocess.run(
            ["bash", "-c", f"cd {gone} && rmdir {gone} && exec {fog} {args}"], env=e, capture_output=True, timeout=120
        )
        err = proc.stderr.decode()
        assert proc.returncode == rc, (args, err)
        assert "internal error" not in err and "Traceback" not in err, err
        if rc:
            assert err.count("\n") == 1 and "current directory no longer exists" in err, err


def test_an_unwritable_local_archive_is_a_warning_not_a_remote_failure(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chattr +i .fog/archive` stopped push, pull and check with "remote .../archive is read-only"."""
    from fog.backends.local import LocalBackend
    from fog.errors import ReadOnlyRemote

    real = LocalBackend.from_url.__func__  # type: ignore[attr-defined]

    def from_url(cls, url: str, *a, **k):  # type: ignore[no-untyped-def]
        if url.endswith("archive"):
            raise ReadOnlyRemote(f"remote {url} is read-only: directory {url} is not writable")
        return real(cls, url, *a, **k)

    monkeypatch.setattr(LocalBackend, "from_url", classmethod(from_url))
    share.write("a.txt", "a\n")
    share.push()
    r = share.fog("pull")
    assert "local archive" in r.err and "remote" not in r.err.split("(")[0], r.err
    share.fog("check")


def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_temp_files_of_a_killed_secret_write_are_swept_by_the_next_write(share: Share) -> None:
    """Only protect/unprotect swept them, and never the journal's own (`..reseal.tmp-PID`): a clear copy
    of a secret stayed in FOG_HOME for good after a crash."""
    home = _home()
    dead = _dead_pid()
    left = [home / f".syncconfig.json.tmp-{dead}", home / f"..reseal.tmp-{dead}", home / f".master-key.tmp-{dead}"]
    for p in left:
        p.write_bytes(b"secret\n")
    alive = home / f".identity.json.tmp-{os.getppid()}"  # a process still running may be about to rename it
    alive.write_bytes(b"x\n")
    share.fog("device", "rename", share.fog("device", "list", "--json").json()[0]["name"], "renamed")
    assert [p for p in left if p.exists()] == []
    assert alive.exists()


def test_a_no_change_sync_does_not_walk_the_archive(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pull walked and stat'ed the whole `.fog/archive` to trim it, also when it archived nothing: a
    no-change cron sync cost 0.86 CPU-s at 100,000 archived objects instead of 0.35 (review 5, longrun 6)."""
    import fog.api
    from fog.sync import context

    walks: list[int] = []
    real = context.trim_archive

    def counting(ctx):  # type: ignore[no-untyped-def]
        walks.append(1)
        return real(ctx)

    monkeypatch.setattr(fog.api, "trim_archive", counting)
    share.write("a.txt", "a\n")
    share.push()
    share.fog("sync")
    share.fog("pull")
    assert walks == []


# -- review 6, C7: what is not a regular file in FOG_HOME -----------------------------------------------


@pytest.mark.parametrize("name", ["identity.json", "master-key", "syncconfig.json", "checkouts.json", "adopted-place"])
@pytest.mark.parametrize("kind", ["fifo", "symlink-to-dev-zero"])
def test_a_fifo_or_device_link_in_fog_home_is_one_line_never_a_hang(share: Share, name: str, kind: str) -> None:
    """A FIFO in place of a FOG_HOME file hung every command at its open (even `status`); a link to /dev/zero
    there, or as the protect journal `.reseal`, read without end until the OOM killer."""
    from fogcli import run_fog

    share.write("a.txt", "one\n")
    share.push()
    path = _home() / name
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    for command in (["status"], ["log", "a.txt"], ["push"]):
        r = run_fog(command, share.root, expect=None, timeout=20, subprocess_=True)
        if name in ("checkouts.json", "adopted-place"):  # a record fog rebuilds, or an optional one
            assert r.rc == 0, str(r)
            continue
        line = r.one_line_error()
        assert r.rc == 1 and str(path) in line, str(r)
        assert ("not a regular file but a FIFO" if kind == "fifo" else "symbolic link") in line, line


def test_a_reseal_journal_linked_to_dev_zero_is_dropped(share: Share) -> None:
    from fogcli import run_fog

    share.write("a.txt", "one\n")
    share.push()
    journal = _home() / ".reseal"
    journal.symlink_to("/dev/zero")
    run_fog(["status"], share.root, timeout=20, subprocess_=True)
    assert not os.path.lexists(journal)


def test_a_restore_to_a_file_sweeps_the_temp_a_killed_one_left_beside_it(share: Share, tmp_path: Path) -> None:
    """`restore FILE -o OUT` killed before its rename left a full-size hidden `.fog-tmp-PID-...` beside OUT for
    ever: only `.fog/tmp` was swept (review 6, crash C8). A temp of a process alive is left alone."""
    share.write("big.bin", os.urandom(300_000))
    share.push()
    out = tmp_path / "out"
    out.mkdir()
    dead = out / f".fog-tmp-{_dead_pid()}-0123abcd-00000000"
    dead.write_bytes(b"x" * 300_000)
    alive = out / f".fog-tmp-{os.getpid()}-0123abcd-00000001"
    alive.write_bytes(b"y")
    mine = out / ".fog-tmp-notes"  # a user's file, not fog's temp name
    mine.write_text("keep\n")
    share.fog("restore", "big.bin", "-o", str(out / "big.bin"))
    assert sorted(p.name for p in out.iterdir()) == sorted(["big.bin", alive.name, mine.name])
