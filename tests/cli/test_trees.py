"""Whole trees through time (issue 19, part 1): DIR@WHEN for restore, ls, diff, log, find.

Every history here is made by real fog commands on a local-directory remote:
adds (files, a directory, a symlink, modes), an edit, a rename, a deletion
and a ransomware-style mass modification.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fogcli import Share, init_share, run_fog

FILES = {f"docs/f{i:02d}.txt": f"file {i}\n" for i in range(12)}


def _snapshot(top: Path) -> dict[str, tuple[str, int, bytes | str | None]]:
    """Every entry below `top` (no .fog): kind, mode, content or link target."""
    out: dict[str, tuple[str, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d != ".fog"]
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(top).as_posix()
            s = full.lstat()
            if full.is_symlink():
                out[rel] = ("link", 0, os.readlink(full))
            elif full.is_dir():
                out[rel] = ("dir", s.st_mode & 0o7777, None)
            else:
                out[rel] = ("file", s.st_mode & 0o7777, full.read_bytes())
    return out


def _history(share: Share) -> dict[str, object]:
    """Four pushes: adds, edits (rename, delete, chmod), a mass modification, then a new file."""
    for path, text in FILES.items():
        share.write(path, text)
    share.write("notes.md", "# notes\n")
    share.write("bin/run.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    os.symlink("notes.md", share.root / "latest")
    share.push()
    share.write("notes.md", "# notes\nsecond line\n")
    os.rename(share.root / "docs/f00.txt", share.root / "docs/renamed.txt")
    (share.root / "docs/f01.txt").unlink()
    os.chmod(share.root / "bin/run.sh", 0o700)
    share.push()
    good = _snapshot(share.root)
    for path in [*FILES, "notes.md"]:
        if (share.root / path).exists():
            share.write(path, b"\x00ENCRYPTED" + os.urandom(16))
    share.push()
    bad = _snapshot(share.root)
    share.write("later.txt", "made after the attack\n")
    share.push()
    pushes = share.fog("log", "--pushes", "--json").json()
    return {"good": good, "bad": bad, "pushes": pushes}


def test_ransomware_restore_of_the_share_is_one_command(share: Share) -> None:
    h = _history(share)
    pushes = h["pushes"]
    assert len(pushes) == 4 and [p["versions"] for p in pushes][-1] == 17  # newest first; 12+2 files, 2 dirs, link
    attack = pushes[1]["push"]
    assert pushes[1]["files"] == 11 and pushes[1]["deleted"] == 0

    dry = share.fog("restore", f".@push:{attack[:10]}^", "--delete", "--dry-run", "--json").json()
    assert dry["dry_run"] and dry["deleted"] == ["later.txt"] and len(dry["written"]) == 11
    assert (share.root / "later.txt").exists()

    # a change never pushed is never overwritten without --force
    share.write("notes.md", "unpushed edit\n")
    r = share.fog("restore", f".@push:{attack}^", expect=1)
    assert "never pushed" in r.err and "notes.md" in r.err
    share.write("notes.md", h["bad"]["notes.md"][2])  # type: ignore[index]

    r = share.fog("restore", f".@push:{attack}^", "--delete", "--max-delete", "0", expect=1)
    assert "--max-delete" in r.err
    r = share.fog("restore", f".@push:{attack}^", "--delete")
    assert "right before push" in r.err and "/s" in r.err  # says what REV resolved to, and the rate
    assert _snapshot(share.root) == h["good"]

    # recorded as new versions by the next push, and a rerun finds nothing to do
    status = share.fog("status", "--json").json()
    assert len(status["modified"]) == 11 and status["deleted"] == ["later.txt"]
    again = share.fog("restore", f".@push:{attack}^", "--json").json()
    assert again["written"] == [] and again["unchanged"] == 16
    pushed = share.push()
    assert len(pushed["modified"]) == 11
    assert len(share.fog("log", "--pushes", "--json").json()) == 5
    assert share.fog("diff", "--exit-code", f".@push:{attack}^", "~0").rc == 0


def test_ls_diff_find_and_log_at_each_moment(share: Share) -> None:
    h = _history(share)
    first, second, attack, last = (p["push"] for p in reversed(h["pushes"]))  # type: ignore[index]

    ls = share.fog("ls", "-R", "--json", f".@push:{first}").json()
    paths = [e["path"] for e in ls["entries"]]
    assert "docs/f00.txt" in paths and "docs/renamed.txt" not in paths and "later.txt" not in paths
    assert set(ls["entries"][0]) >= {"path", "version", "kind", "size", "mode", "mtime", "time", "device", "target"}
    link = next(e for e in ls["entries"] if e["path"] == "latest")
    assert link["kind"] == "link" and link["target"] == "notes.md"
    top = share.fog("ls", f".@push:{second}").out.splitlines()
    assert top == ["bin/", "docs/", "latest -> notes.md", "notes.md"]
    assert share.fog("ls").out.splitlines() == ["bin/", "docs/", "later.txt", "latest -> notes.md", "notes.md"]
    docs = share.fog("ls", "-l", "docs@~1").out  # right before the attack, the last push touching docs
    assert "renamed.txt" in docs and "f01.txt" not in docs and "-rw-r--r--" in docs
    assert "rwx------" in share.fog("ls", "-l", "bin@~0").out

    r = share.fog("diff", "--name-status", f".@push:{first}", f".@push:{second}")
    assert r.out.splitlines() == [
        "M\tbin/run.sh",
        "D\tdocs/f00.txt",
        "D\tdocs/f01.txt",
        "A\tdocs/renamed.txt",
        "M\tnotes.md",
    ]
    assert share.fog("diff", "--exit-code", f".@push:{first}", f".@push:{second}", expect=1).rc == 1
    patch = share.fog("diff", "-p", f"docs@push:{first}", f"push:{second}").out
    assert "-file 0" in patch and "+++" in patch
    assert share.fog("diff", "--exit-code").rc == 0  # the working tree is the last push
    share.write("notes.md", "# notes\nsecond line\nthird\n")
    doc = share.fog("diff", "--json", "--stat").json()
    assert [(c["path"], c["status"]) for c in doc["changes"]] == [("notes.md", "M")] and not doc["identical"]
    assert doc["changes"][0]["diff"] is None  # the pushed side is the attack's binary garbage
    me = share.fog("device", "list", "--json").json()[0]["name"]
    assert doc["changes"][0]["old"]["device"] == me  # a name, as fog log --json says it
    stat = share.fog("diff", "--stat").out
    assert "notes.md | M Bin" in stat and "1 path(s) changed" in stat

    found = share.fog("find", "f0[01].txt", "--json").json()
    assert [f["path"] for f in found] == ["docs/f00.txt", "docs/f01.txt"]
    assert all(f["deleted"] for f in found) and len(found[0]["versions"]) == 2
    assert "(deleted)" in share.fog("find", "*.txt").out

    log = share.fog("log").out
    assert log.index(f"push {last[:12]}") < log.index(f"push {attack[:12]}") < log.index(f"push {first[:12]}")
    assert share.fog("log", "--pushes", "-n", "1").out.startswith(f"push {last[:12]}")


@pytest.mark.parametrize("forms", [["--stat", "--name-status"], ["--stat", "-p"], ["-p", "--name-status"]])
def test_diff_refuses_two_forms_at_once(share: Share, forms: list[str]) -> None:
    """`fog diff --stat --name-status .@~1` and `--stat -p` were taken, the last one checked silently winning."""
    share.write("a.txt", "one\n")
    share.push()
    r = share.fog("diff", *forms, ".@~0", expect=2)
    assert r.out == "" and "choose one form of the diff" in r.one_line_error()
    assert json.loads(share.fog("diff", *forms, "--json", expect=2).one_line_error())["kind"] == "usage"


def test_diff_stat_and_name_status_of_one_file(share: Share) -> None:
    """`fog diff --stat FILE@~1` printed the unified diff, --stat ignored without a word."""
    share.write("a.txt", "one\ntwo\n")
    share.push()
    share.write("a.txt", "one\nTWO\nthree\n")
    out = share.fog("diff", "--stat", "a.txt@~0").out
    assert "@@" not in out and out.splitlines() == [
        " a.txt |     3 ++-",
        " 1 path(s) changed, 2 insertion(s)(+), 1 deletion(s)(-)",
    ]
    assert share.fog("diff", "--name-status", "a.txt@~0").out == "M\ta.txt\n"
    share.push()
    assert share.fog("diff", "--name-status", "a.txt@~1", "a.txt@~0").out == "M\ta.txt\n"
    (share.root / "a.txt").unlink()
    assert share.fog("diff", "--name-status", "a.txt@~0").out == "D\ta.txt\n"
    r = share.fog("diff", "--stat", "a.txt@~0", "a.txt@~0")
    assert r.out == "" and "identical" in r.err


def test_trees_by_date_dir_restores_and_yesterday(share: Share) -> None:
    share.write("d/a.txt", "one\n")
    share.write("d/sub/b.txt", "two\n")
    share.push()
    time.sleep(1.1)
    between = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    share.write("d/a.txt", "changed\n")
    share.push()

    out = share.tmp / "out"
    share.fog("restore", f"d@{between.isoformat()}", "-o", out)
    assert (out / "a.txt").read_text() == "one\n" and (out / "sub/b.txt").read_text() == "two\n"
    share.fog("restore", "d@~1", "-o", share.tmp / "tilde")  # a directory's ~1 is a tree, not an empty dir
    assert (share.tmp / "tilde/a.txt").read_text() == "one\n"
    occupied = share.tmp / "occupied"
    occupied.mkdir()
    (occupied / "keep").write_text("x")
    share.fog("restore", "d@~1", "-o", occupied)  # like cp -r: into it, under the tree's name
    assert (occupied / "d/a.txt").read_text() == "one\n"
    assert share.fog("restore", "d@~1", "-o", share.root / "inside", expect=2).rc == 2

    share.fog("restore", "d@~1")
    assert (share.root / "d/a.txt").read_text() == "one\n"
    r = share.fog("restore", ".@yesterday", "--json")  # before anything was pushed: nothing to write
    assert r.json()["written"] == [] and len(r.json()["extra"]) == 4
    share.fog("ls", "-l", ".@yesterday")
    r = share.fog("ls", ".@soon", expect=None)
    assert r.rc != 0 and "push:ID" in r.err
    r = share.fog("restore", ".@push:ffffffffff", expect=None)
    assert r.rc != 0 and "no such push" in r.err


def test_pull_records_pushes_for_another_device(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    share.write("a.txt", "1\n")
    share.push()
    share.write("a.txt", "2\n")
    share.push()
    device = share.fog("log", "--pushes", "--json").json()[0]["device"]
    monkeypatch.setenv("FOG_HOME", str(tmp_path / "home2"))
    clone = tmp_path / "clone"
    run_fog(["clone", share.remote, clone, "--master-key-file", share.key_file, "--device-name", "other"], tmp_path)
    pushes = run_fog(["log", "--pushes", "--json"], clone).json()
    assert [p["batches"] for p in pushes] == [{"origin": 2}, {"origin": 1}]
    r = run_fog(["restore", f"a.txt@push:{device}:1", "-o", "-"], clone)
    assert r.raw == b"1\n"
    assert run_fog(["ls", f".@push:{device}:2^", "--json"], clone).json()["entries"][0]["size"] == 2


def test_init_share_helper_still_plain(tmp_path: Path) -> None:
    s = init_share(tmp_path, "plain")
    assert s.fog("ls").out == "" and s.fog("log", "--pushes").rc == 0


def test_device_n_takes_origins_numbering_once_a_second_remote_counts_its_own(share: Share, tmp_path: Path) -> None:
    share.write("a.txt", "1\n")
    share.push()
    share.write("a.txt", "2\n")
    share.push()
    share.fog("remote", "add", "second", tmp_path / "second")
    share.push()  # second's batch 1 (the history so far), while origin's 1 is the first push
    device = share.fog("device", "list", "--json").json()[0]["name"]
    assert share.fog("cat", f"a.txt@push:{device}:1").out == "1\n"
    assert share.fog("cat", f"a.txt@push:{device}:2").out == "2\n"


def test_a_stopped_restore_to_a_directory_is_resumed_by_the_same_command(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped part-way, `restore .@REV -o DIR` left DIR non-empty: the same command wrote a second, nested
    copy (cp -r's rule), and the partial one stayed. It finishes the first instead."""
    from fog.sync import treerestore

    for i in range(12):
        share.write(f"d/f{i:02}.txt", f"{i}\n")
    share.push()
    out = share.tmp / "out"
    place = treerestore._place_staged

    def stopped(writes, staged, fds, *a, **k):  # type: ignore[no-untyped-def]
        first = {i: staged.pop(i) for i in sorted(staged)[:5]}
        place(writes, first, fds, *a, **k)
        (Path(fds.top) / "d" / ".fog-tmp-1-0123abcd-00000001").write_text("a temp file left by a kill")
        raise KeyboardInterrupt

    monkeypatch.setattr(treerestore, "_place_staged", stopped)
    share.fog("restore", ".@~0", "-o", out, expect=130)
    monkeypatch.setattr(treerestore, "_place_staged", place)
    assert 0 < len(list((out / "d").iterdir())) < 12
    share.fog("restore", ".@~0", "-o", out)
    assert sorted(p.name for p in out.iterdir()) == ["d"]  # not nested, no marker left
    assert sorted(p.name for p in (out / "d").iterdir()) == [f"f{i:02}.txt" for i in range(12)]
    assert all((out / "d" / f"f{i:02}.txt").read_text() == f"{i}\n" for i in range(12))
    share.fog("restore", ".@~0", "-o", out)  # finished: cp -r's rule again
    assert (out / share.root.name / "d" / "f00.txt").read_text() == "0\n"


def test_a_tree_restore_never_writes_through_a_symlink(share: Share, tmp_path: Path) -> None:
    """`d` became a symlink to a directory outside the share (pushed): `fog restore d@~1` wrote d/b.txt out
    there. The link is replaced by the directory now; and a directory above the scope that became a link is
    refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    share.write("d/b.txt", "secret\n")
    share.write("p/q/c.txt", "deep\n")
    share.push()
    shutil.rmtree(share.root / "d")
    (share.root / "d").symlink_to(outside)
    shutil.rmtree(share.root / "p")
    (share.root / "p").symlink_to(outside)
    share.push()
    share.fog("restore", "d@~1")
    assert list(outside.iterdir()) == []
    assert not (share.root / "d").is_symlink() and (share.root / "d/b.txt").read_text() == "secret\n"
    line = share.fog("restore", "p/q@~1", expect=1).one_line_error()
    assert "p is not a directory now" in line, line
    assert list(outside.iterdir()) == []


def test_restore_delete_leaves_ignored_files_alone(share: Share) -> None:
    """`restore .@~1 --delete` called an ignored file "never pushed; push them first, or pass --force", which
    cannot be pushed; --force then deleted it, in no history. Ignored paths are hands off."""
    share.write(".fogignore", "*.log\nbuild/\n")
    share.write("a", "a\n")
    share.push()
    share.write("b", "b\n")
    share.push()
    share.write("app.log", "precious\n")
    share.write("build/out.o", "object\n")
    share.fog("restore", ".@~1", "--delete", "--max-delete", "100%")
    assert not (share.root / "b").exists()
    assert (share.root / "app.log").read_text() == "precious\n"
    assert (share.root / "build/out.o").read_text() == "object\n"


def test_restore_across_a_change_of_kind(share: Share, tmp_path: Path) -> None:
    """x was a file and is a directory now: `restore x@~1` wrote nothing and exited 0 (-o: an empty
    directory); a file where p/ was gave "File exists: .../p". Now: the file version, or one clear line."""
    share.write("x", "one\n")
    share.write("y/a.txt", "data\n")
    share.write("p/b.txt", "hi\n")
    share.push()
    (share.root / "x").unlink()
    share.write("x/p.txt", "p\n")
    shutil.rmtree(share.root / "y")
    share.write("y", "file\n")
    shutil.rmtree(share.root / "p")
    share.write("p", "file\n")
    share.push()
    line = share.fog("restore", "x@~1", expect=1).one_line_error()
    assert "x is a directory now" in line, line
    share.fog("restore", "x@~1", "-o", tmp_path / "out")
    assert (tmp_path / "out").read_text() == "one\n"
    share.fog("restore", "y@~1")
    assert (share.root / "y/a.txt").read_text() == "data\n"
    for extra in ([], ["--force"]):
        line = share.fog("restore", "p/b.txt@~1", *extra, expect=1).one_line_error()
        assert "p is a file now" in line, line
    assert (share.root / "p").read_text() == "file\n"


def _names(share: Share, spec: str) -> list[str]:
    return [e["path"] for e in share.fog("ls", "-R", spec, "--json").json()["entries"]]


def test_tilde_counts_the_pushes_that_brought_something_not_a_new_remote_filled(share: Share, tmp_path: Path) -> None:
    """A remote added later is filled by one batch of the versions already pushed: it counted as a push made
    at its oldest version's time, so `.@~2` was the empty share and `restore .@~2 --delete` would delete
    everything. ~N, log --pushes, ls, diff, restore and the mount's by-push/ count the same three pushes."""
    share.write("f1", "1\n")
    share.push()
    share.write("f2", "2\n")
    share.push()
    share.fog("remote", "add", "backup", tmp_path / "r2")
    share.push()  # backup's batch 1: f1 and f2 again
    share.write("f3", "3\n")
    share.push()
    pushes = share.fog("log", "--pushes", "--json").json()
    assert [p["batches"] for p in pushes] == [{"backup": 2, "origin": 3}, {"origin": 2}, {"origin": 1}]
    assert [p["versions"] for p in pushes] == [1, 1, 1]
    assert [p["time_ns"] for p in pushes] == sorted((p["time_ns"] for p in pushes), reverse=True)
    assert _names(share, ".@~1") == ["f1", "f2"]
    assert _names(share, ".@~2") == ["f1"]
    assert _names(share, f".@push:{pushes[1]['push']}^") == ["f1"]
    assert "only 3 push(es)" in share.fog("ls", ".@~4", expect=1).one_line_error()
    dry = share.fog("restore", ".@~2", "--delete", "-n", "--json").json()
    assert dry["deleted"] == ["f2", "f3"] and dry["unchanged"] == 1
    diff = share.fog("diff", ".@~2", "--json").json()
    assert [(c["path"], c["status"]) for c in diff["changes"]] == [("f2", "A"), ("f3", "A")]
    from fog.mount import open_fs

    with open_fs(Path(os.environ["FOG_HOME"]), share.root) as fs:
        ids = fs.listdir("by-push")
        assert ids == [p["push"][:12] for p in reversed(pushes)]
        assert fs.listdir(f"by-push/{ids[1]}^") == ["f1"]
    share.fog("restore", ".@~2", "--delete")
    assert sorted(p.name for p in share.root.iterdir() if p.name != ".fog") == ["f1"]


def test_tilde_skips_a_forget_batch_and_versions_forgotten(share: Share) -> None:
    """`fog forget` publishes a batch of no versions: it counted as ~1 of the share (`.@~1` was the current
    state). And a push whose versions are all forgotten brought nothing that is left."""
    share.write("f", "v1\n")
    share.push()
    share.write("f", "v2\n")
    share.push()
    share.write("g", "g\n")
    share.push()
    assert _names(share, ".@~1") == ["f"]
    share.fog("forget", "--keep-last", "1")
    assert _names(share, ".@~1") == ["f"]
    assert share.fog("cat", "f@9999-12-31").out == "v2\n"
    assert [p["versions"] for p in share.fog("log", "--pushes", "--json").json()] == [1, 1]
    assert "only 2 push(es)" in share.fog("ls", ".@~3", expect=1).one_line_error()


def test_a_version_id_names_a_version_of_a_path_that_is_a_directory_now(share: Share, tmp_path: Path) -> None:
    """`restore notes@ID` (and diff) read the hex id as a date, "cannot read ... as a REV for a tree", when
    notes, a file then, is a directory now; so did `restore e@ID` for a deleted empty directory."""
    share.write("notes", "hi\n")
    (share.root / "e").mkdir()
    share.push()
    (share.root / "notes").unlink()
    share.write("notes/todo", "t\n")
    (share.root / "e").rmdir()
    share.push()
    file_id = next(v["version"] for v in share.log("notes") if v["path"] == "notes" and v["kind"] == "file")[:12]
    dir_id = next(v["version"] for v in share.log("e") if v["kind"] == "dir")[:12]
    assert share.fog("cat", f"notes@{file_id}").out == "hi\n"
    share.fog("restore", f"notes@{file_id}", "-o", tmp_path / "out")
    assert (tmp_path / "out").read_text() == "hi\n"
    changes = share.fog("diff", f"notes@{file_id}", "--json").json()["changes"]
    assert [(c["path"], c["status"]) for c in changes] == [("notes", "T"), ("notes/todo", "A")]
    assert [e["version"][:12] for e in share.fog("ls", f"notes@{file_id}", "--json").json()["entries"]] == [file_id]
    share.fog("restore", f"e@{dir_id}")
    assert (share.root / "e").is_dir()
    line = share.fog("restore", "notes@beef", "-o", tmp_path / "o2", expect=1).one_line_error()
    assert "no version of notes starts with beef" in line, line


def test_restore_refuses_to_drop_an_unpushed_mode_change(share: Share) -> None:
    """`chmod 755 run.sh` (status: M) then `restore run.sh@~1` exited 0 with the mode 644 again: the content
    was a pushed version, the mode was not looked at (nor a directory's by a tree restore)."""
    share.write("run.sh", "v1\n", mode=0o644)
    share.push()
    share.write("run.sh", "v2\n")
    share.push()
    os.chmod(share.root / "run.sh", 0o755)
    assert share.fog("status", "--json").json()["modified"] == ["run.sh"]
    for spec in ("run.sh@~1", ".@~1"):
        assert "never pushed" in share.fog("restore", spec, expect=1).one_line_error()
        assert (share.root / "run.sh").stat().st_mode & 0o777 == 0o755
    share.fog("restore", "run.sh@~1", "--force")
    assert (share.root / "run.sh").stat().st_mode & 0o777 == 0o644
    assert (share.root / "run.sh").read_text() == "v1\n"
    share.fog("restore", "run.sh@~0")  # a version put back by a restore is still nothing unsaved
    # a directory's mode: a tree restore set it back too
    share.write("d/x", "x\n")
    os.chmod(share.root / "d", 0o755)
    share.push()
    share.write("d/x", "y\n")
    share.push()
    os.chmod(share.root / "d", 0o700)
    assert "never pushed: d;" in share.fog("restore", ".@~1", expect=1).one_line_error()
    assert (share.root / "d").stat().st_mode & 0o777 == 0o700
    share.fog("restore", ".@~1", "--force")
    assert (share.root / "d").stat().st_mode & 0o777 == 0o755
    share.fog("restore", ".@~0")


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_the_last_day_of_year_9999_is_the_latest_state(
    share: Share, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fog ls .@9999-12-31` said "internal error: ValueError: year 10000 is out of range": the day's last
    instant as a float timestamp rounded up into year 10000."""
    share.write("a", "a\n")
    share.push()
    monkeypatch.setenv("TZ", zone)
    for args in (["ls", ".@9999-12-31"], ["diff", "--exit-code", ".@9999-12-31"], ["restore", ".@9999-12-31", "-n"]):
        r = share.fog(*args, sub=True)
        assert "internal error" not in r.err, str(r)
    assert share.fog("ls", ".@9999-12-31", sub=True).out == "a\n"
    assert share.fog("log", "--pushes", "--until", "9999-12-31", "--json", sub=True).json()
    line = share.fog("log", "--pushes", "--until", "0001-01-01", expect=2, sub=True).one_line_error()
    assert "internal error" not in line, line


# -- what a tree restore must never lose (review 4: F8-F11, F1b, F2b) -----------------------------------------


def _nested_share(top: Path) -> None:
    """`top` becomes a share of its own, as an older fog (or a user) made it: TOP/.fog/ with its database."""
    (top / ".fog" / "db").mkdir(parents=True)
    (top / ".fog" / "config.json").write_text("{}")


def test_a_directory_where_the_tree_had_a_file_is_emptied_only_by_delete(share: Share, tmp_path: Path) -> None:
    """d was a file and is a directory now, with an unpushed d/new: `restore .@~1` (no --force, no --delete)
    deleted the whole directory and said its paths were "left alone"; `-o DIR --force` deleted a user's
    directory of DIR the same way. Paths created since go only with --delete, unpushed ones only with --force."""
    share.write("d", "d was a file\n")
    share.write("f", "v1\n")
    share.push()
    (share.root / "d").unlink()
    share.write("d/p", "pushed\n")
    share.push()
    share.write("d/new", "unpushed precious\n")
    for extra in (["-n"], []):  # (both exit 5: the tree's file d is not (would not be) put in place)
        doc = share.fog("restore", ".@~1", *extra, "--json", expect=5).json()
        assert doc["written"] == [] and doc["deleted"] == [], doc
        assert sorted(doc["extra"]) == ["d/new", "d/p"], doc
        assert [s for s in doc["skipped"] if s.startswith("d: a directory is in the way")], doc
        assert (share.root / "d/new").read_text() == "unpushed precious\n"
        assert (share.root / "d/p").read_text() == "pushed\n"
    for extra in (["-n"], []):
        assert "never pushed: d/new" in share.fog("restore", ".@~1", "--delete", *extra, expect=1).one_line_error()
    dry = share.fog("restore", ".@~1", "--delete", "--force", "-n", "--json").json()
    assert sorted(dry["deleted"]) == ["d/new", "d/p"] and dry["written"] == ["d"], dry
    assert (share.root / "d/new").read_text() == "unpushed precious\n"
    share.fog("restore", ".@~1", "--delete", "--force")
    assert (share.root / "d").read_text() == "d was a file\n"
    # -o DIR --force: --force replaces an existing file there, never a directory of the user's
    out = tmp_path / "out"
    (out / share.root.name / "d").mkdir(parents=True)
    (out / share.root.name / "d" / "mine").write_text("the user's own\n")
    doc = share.fog("restore", ".@~1", "-o", out, "--force", "--json", expect=5).json()
    assert (out / share.root.name / "d" / "mine").read_text() == "the user's own\n"
    assert [s for s in doc["skipped"] if s.startswith("d: a directory is in the way")], doc
    assert (out / share.root.name / "f").read_text() == "v1\n"
    err = share.fog("restore", ".@~1", "-o", out, "--force", expect=5).err
    assert "1 path(s) not in that tree left alone\n" in err and "--delete" not in err, err  # (refused with -o)


def test_restore_delete_keeps_a_new_directory_holding_ignored_files_or_a_nested_share(share: Share) -> None:
    """`restore .@~1 --delete` deleted newdir/ with the ignored (never pushed) x.log in it, and -n did not list
    x.log; a nested share inside a new directory made it stop half-way on "Directory not empty"."""
    share.write(".fogignore", "*.log\n")
    share.write("f", "v1\n")
    share.push()
    share.write("newdir/p", "pushed\n")
    share.write("other/q", "pushed\n")
    share.write("f", "v2\n")
    share.push()
    share.write("newdir/x.log", "ignored, precious\n")
    _nested_share(share.root / "other" / "inner")
    (share.root / "other/inner/x").write_text("nested precious\n")
    dry = share.fog("restore", ".@~1", "--delete", "-n", "--json").json()
    assert sorted(dry["deleted"]) == ["newdir/p", "other/q"], dry
    share.fog("restore", ".@~1", "--delete")
    assert not (share.root / "newdir/p").exists() and not (share.root / "other/q").exists()
    assert (share.root / "newdir/x.log").read_text() == "ignored, precious\n"
    assert (share.root / "other/inner/x").read_text() == "nested precious\n"
    assert (share.root / "other/inner/.fog/config.json").read_text() == "{}"
    assert (share.root / "f").read_text() == "v1\n"


def test_a_tree_restore_leaves_a_nested_share_alone(share: Share) -> None:
    """sub/ (pushed) became a share of its own: `restore .@~1` wrote the outer share's sub/f over the nested
    share's own f, with no --force asked for, as if nothing were there. A nested share is hands off."""
    share.write("sub/f", "v1\n")
    share.write("sub/g", "v1\n")
    share.write("top", "v1\n")
    share.push()
    shutil.rmtree(share.root / "sub")
    (share.root / "sub").mkdir()
    _nested_share(share.root / "sub")
    (share.root / "sub/f").write_text("nested f\n")
    share.write("top", "v2\n")
    share.push()
    for extra in (["-n"], [], ["--force", "--delete"]):
        doc = share.fog("restore", ".@~1", *extra, "--json").json()
        assert not [p for p in doc["written"] + doc["deleted"] if p.startswith("sub")], doc
        assert [s for s in doc["skipped"] if s.startswith("sub: nested fog share")], doc
        assert (share.root / "sub/f").read_text() == "nested f\n" and not (share.root / "sub/g").exists()
    assert (share.root / "top").read_text() == "v1\n"
    line = share.fog("restore", "sub@~1", expect=1).one_line_error()
    assert "sub is a nested fog share" in line, line
    assert (share.root / "sub/f").read_text() == "nested f\n" and not (share.root / "sub/g").exists()


def test_a_tree_restore_treats_a_users_fog_tmp_file_like_any_other(share: Share) -> None:
    """`.fog-tmp-notes` is synced like any file, but a tree restore skipped every `.fog-tmp-*` name as fog's own:
    its unpushed edit was overwritten without --force, and --delete never removed one made since."""
    share.write(".fog-tmp-notes", "v1\n")
    share.push()
    share.write(".fog-tmp-notes", "v2\n")
    share.write("d/.fog-tmp-made-since", "new\n")
    share.push()
    share.write(".fog-tmp-notes", "unpushed precious\n")
    assert "never pushed: .fog-tmp-notes" in share.fog("restore", ".@~1", expect=1).one_line_error()
    assert (share.root / ".fog-tmp-notes").read_text() == "unpushed precious\n"
    share.write(".fog-tmp-notes", "v2\n")
    (share.root / "d/.fog-tmp-1-0123abcd-00000001").write_text("fog's own temp name: not ours to judge")
    dry = share.fog("restore", ".@~1", "--delete", "-n", "--json").json()
    assert dry["written"] == [".fog-tmp-notes"] and dry["deleted"] == ["d/.fog-tmp-made-since"], dry
    share.fog("restore", ".@~1", "--delete")
    assert (share.root / ".fog-tmp-notes").read_text() == "v1\n"
    assert not (share.root / "d/.fog-tmp-made-since").exists()
    assert (share.root / "d/.fog-tmp-1-0123abcd-00000001").exists()  # so d stays


def _while_staging(monkeypatch: pytest.MonkeyPatch, act: object) -> None:
    """Run `act()` once, right after the restore staged its first file (before anything is renamed)."""
    from fog.sync import treerestore

    stage = treerestore.stage_version
    done: list[bool] = []

    def staging(*a, **k):  # type: ignore[no-untyped-def]
        out = stage(*a, **k)
        if not done:
            done.append(True)
            act()  # type: ignore[operator]
        return out

    monkeypatch.setattr(treerestore, "stage_version", staging)


def test_a_file_made_while_a_tree_restore_runs_is_never_overwritten(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """g was deleted since; the user wrote a new g while `restore .@~1` downloaded: the restore replaced it
    (exit 0, no notice), as nothing had been at g when it looked. A path absent then is placed only if it
    still is."""
    share.write("g", "old g\n")
    share.write("h", "old h\n")
    share.push()
    (share.root / "g").unlink()
    (share.root / "h").unlink()
    share.push()
    _while_staging(monkeypatch, lambda: (share.root / "g").write_text("the user's new g\n"))
    doc = share.fog("restore", ".@~1", "--json", expect=5).json()
    assert (share.root / "g").read_text() == "the user's new g\n"
    assert (share.root / "h").read_text() == "old h\n"
    assert [s for s in doc["skipped"] if s.startswith("g: made while restoring")], str(doc)
    assert doc["written"] == ["h"], doc


def test_restore_delete_never_removes_a_file_edited_after_the_plan(
    share: Share, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--delete unlinked what it planned to, whatever the path held by then."""
    from fog.sync import treerestore

    share.write("a", "a\n")
    share.push()
    share.write("later", "pushed\n")
    share.push()
    remove = treerestore._remove

    def removing(*a, **k):  # type: ignore[no-untyped-def]
        (share.root / "later").write_text("edited after the plan\n")
        return remove(*a, **k)

    monkeypatch.setattr(treerestore, "_remove", removing)
    doc = share.fog("restore", ".@~1", "--delete", "--json", expect=5).json()
    assert (share.root / "later").read_text() == "edited after the plan\n"
    assert [s for s in doc["skipped"] if s.startswith("later: changed while restoring")], doc
    assert doc["deleted"] == [], doc


def test_a_tree_restore_never_writes_or_chmods_through_a_directory_swapped_for_a_symlink(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """d/ (0700) was deleted since; while `restore .@~1` placed its files, the user put a symlink to a directory
    outside the share at d: the restore replaced outside/f and chmod'ed outside to 0700."""
    share.write("d/f", "old f\n")
    share.write("d/big", os.urandom(1 << 16))
    os.chmod(share.root / "d", 0o700)
    share.push()
    shutil.rmtree(share.root / "d")
    share.push()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.chmod(outside, 0o755)
    (outside / "f").write_text("precious\n")

    def swap() -> None:
        os.rename(share.root / "d", share.root / "d.moved")
        (share.root / "d").symlink_to(outside)

    from fog.sync import treerestore

    place = treerestore._place_staged

    def placing(*a, **k):  # type: ignore[no-untyped-def]
        swap()  # (its directories made, before the staged files are renamed into them)
        return place(*a, **k)

    monkeypatch.setattr(treerestore, "_place_staged", placing)
    doc = share.fog("restore", ".@~1", "--json", expect=5).json()
    assert sorted(p.name for p in outside.iterdir()) == ["f"] and (outside / "f").read_text() == "precious\n"
    assert outside.stat().st_mode & 0o777 == 0o755
    assert (share.root / "d").is_symlink()
    assert [s for s in doc["skipped"] if s.startswith("d/f: d is a symlink now")], doc


def test_diff_of_a_path_that_became_a_directory_answers_as_the_tree_diff(share: Share) -> None:
    """`fog diff` listed `T f`, `fog diff f` failed (exit 1, "diff compares files, not directories")
    (review 5, semantics S9)."""
    share.write("f", "a file\n")
    share.push()
    (share.root / "f").unlink()
    share.write("f/in", "inside\n")
    whole = share.fog("diff").out
    assert "T\tf" in whole and "A\tf/in" in whole, whole
    assert share.fog("diff", "f").out == whole
    share.fog("diff", "f", "--exit-code", expect=1)


def test_a_directory_with_an_at_in_its_name_is_that_directory(share: Share) -> None:
    """`me@example.com` (a mail folder) is the directory, not `me` at REV `example.com` (review 6 T1:
    restore put back only the directory entry and said restored; ls and diff refused it)."""
    share.write("me@example.com/inbox/1.eml", "m1\n")
    share.push()
    share.write("me@example.com/inbox/1.eml", "m2\n")
    share.push()
    (share.root / "me@example.com/inbox/1.eml").unlink()
    share.fog("restore", "me@example.com")
    assert (share.root / "me@example.com/inbox/1.eml").read_bytes() == b"m2\n"
    assert share.fog("ls", "me@example.com").out.split() == ["inbox/"]
    assert "identical" in share.fog("diff", "me@example.com").err
    # DIR@REV with an `@` in DIR names it at REV
    assert [c["path"] for c in share.fog("diff", "me@example.com@~1", "--json").json()["changes"]] == [
        "me@example.com/inbox/1.eml"
    ]
    share.fog("restore", "me@example.com@~1", "--force")
    assert (share.root / "me@example.com/inbox/1.eml").read_bytes() == b"m1\n"
    # gone from disk, still in history
    shutil.rmtree(share.root / "me@example.com")
    assert share.fog("ls", "-R", "me@example.com").out.split() == ["inbox/", "inbox/1.eml"]


LONG = "x" * 300  # more than the 255 bytes a name may take here (a name another file system holds)


def _publish_renamed(share: Share, monkeypatch: pytest.MonkeyPatch, renames: dict[str, str]) -> None:
    """Push, publishing each path starting with a key of `renames` (and what is below it) under its value:
    as a device whose file system takes longer names would (or a compromised trusted device)."""
    import dataclasses

    from fog.sync import context

    seal = context.Context.seal_version

    def sealing(self, v):  # type: ignore[no-untyped-def]
        for old, new in renames.items():
            if v.path == old or v.path.startswith(old + "/"):
                v = dataclasses.replace(v, path=new + v.path[len(old) :])
        return seal(self, v)

    with monkeypatch.context() as m:
        m.setattr(context.Context, "seal_version", sealing)
        share.push()
    for old in renames:
        (share.root / old).unlink() if (share.root / old).is_file() else shutil.rmtree(share.root / old)


def test_a_name_this_file_system_cannot_hold_skips_that_path_not_the_tree_restore(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One path the file system refuses (ENAMETOOLONG here; EILSEQ, EACCES the same) is named under `skipped`
    and the restore exits 5, the rest restored, as a pull does; it aborted the whole restore with exit 1 half-way,
    after --delete's removals (review 6 trees T4)."""
    share.write("a_first", "ok\n")
    share.write("EVIL_file", "evil\n")
    share.write("EVIL_dir/inside", "evil too\n")
    share.write("d/zz_after", "important\n")
    share.write("z_last", "important 2\n")
    _publish_renamed(share, monkeypatch, {"EVIL_file": f"d/{LONG}", "EVIL_dir": f"d/y{LONG}"})
    shutil.rmtree(share.root / "d")
    (share.root / "z_last").unlink()
    share.write("extra", "not in the tree\n")

    r = share.fog("restore", ".", "--delete", "--force", "--json", expect=5)
    doc = r.json()
    assert sorted(s.split(":")[0] for s in doc["skipped"]) == [f"d/{LONG}", f"d/y{LONG}"], doc["skipped"]
    assert all(s.endswith("File name too long") for s in doc["skipped"]), doc["skipped"]
    assert (share.root / "d/zz_after").read_text() == "important\n"
    assert (share.root / "z_last").read_text() == "important 2\n"
    assert not (share.root / "extra").exists() and doc["deleted"] == ["extra"]
    staging = share.root / ".fog/tmp"
    assert not staging.exists() or not any(staging.iterdir())  # no temp file left

    out = tmp_path / "out"
    r = share.fog("restore", ".", "-o", out, "--json", expect=5)
    assert len(r.json()["skipped"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["a_first", "d", "z_last"]
    assert sorted(p.name for p in (out / "d").iterdir()) == ["zz_after"]  # (no temp file left)


def test_a_file_that_cannot_be_staged_skips_that_path(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSError writing one file's temp copy (EILSEQ, EACCES, ENOSPC...) skips that path; the others are restored."""
    import errno

    from fog.sync import treerestore

    for name in ("a", "bad", "c"):
        share.write(f"d/{name}", f"{name}\n")
    share.push()
    shutil.rmtree(share.root / "d")
    stage = treerestore.stage_version

    def staging(store, v, *a, **k):  # type: ignore[no-untyped-def]
        if v.path == "d/bad":
            raise OSError(errno.EILSEQ, os.strerror(errno.EILSEQ))
        return stage(store, v, *a, **k)

    monkeypatch.setattr(treerestore, "stage_version", staging)
    doc = share.fog("restore", "d", "--json", expect=5).json()
    assert doc["skipped"] == [f"d/bad: {os.strerror(errno.EILSEQ)}"], doc
    assert sorted(p.name for p in (share.root / "d").iterdir()) == ["a", "c"]
    assert sorted(doc["written"]) == ["d/a", "d/c"]


def test_diff_dir_at_rev_with_the_same_dir_compares_with_now(share: Share) -> None:
    """`fog diff docs@~1 docs`: the second side may be a PATH (fog-diff(1)), the directory now, as for a file;
    it was read as a REV, "cannot read 'docs' as a REV" (review 6 trees T8 c)."""
    share.write("docs/a", "a\n")
    share.write("other/x", "x\n")
    share.push()
    share.write("docs/a", "a2\n")
    share.push()
    share.write("docs/a", "unpushed\n")  # (now is the newest versions, not the working tree)
    doc = share.fog("diff", "docs@~1", "docs", "--json").json()
    assert doc == share.fog("diff", "docs@~1", "docs@~0", "--json").json()
    assert [(c["path"], c["status"]) for c in doc["changes"]] == [("docs/a", "M")]
    r = share.fog("diff", "docs@~1", "other", expect=2)
    assert "the same directory" in r.err
    assert share.fog("diff", "docs@~1", "~1", "--json").json()["changes"] == []  # a bare REV still


def test_a_path_with_no_history_says_so_whatever_the_rev(share: Share) -> None:
    """`fog ls nonexist@~1` said "only 0 push(es) changed it (~0 to ~0)" (review 6 trees T8 a)."""
    share.write("a", "a\n")
    share.push()
    for spec in ("nonexist", "nonexist@~1", "nonexist@push:0000^"):
        r = share.fog("ls", spec, expect=1)
        assert "nonexist: no history" in r.err, r


def test_an_altered_block_stops_a_tree_restore_before_anything_is_removed_or_replaced(share: Share) -> None:
    """`restore .@~1 --delete` against a remote that altered a block exited 4 ("nothing was replaced") after
    it had deleted every path not in the tree, and removed a file where the tree had a directory (review 6
    trees T5). Every file is staged and verified before the tree is touched: exit 4, the tree as it was."""
    from fogcli import flip_bit

    share.write("big", os.urandom(200_000))
    share.write("x/big", os.urandom(100_000))
    share.write("keep", "kept\n")
    share.push()
    first = share.packs()[0]
    time.sleep(1.1)
    share.write("big", os.urandom(200_000))
    for i in range(5):
        share.write(f"new{i}", f"made since {i}\n")
    share.write("dirnow/y", "y\n")
    shutil.rmtree(share.root / "x")
    share.write("x", "x is a file now\n")
    share.push()
    flip_bit(max((o for o in share.objects() if o.file == first), key=lambda o: o.length))
    before = _snapshot(share.root)
    r = share.fog("restore", ".@~1", "--delete", "--max-delete", "100%", expect=4)
    assert "authentication failed" in r.err, r
    assert _snapshot(share.root) == before
    assert list((share.root / ".fog" / "tmp").iterdir()) == []
    r = share.fog("restore", ".@~1", expect=4)  # (without --delete: x is still the file)
    assert _snapshot(share.root) == before


def test_a_resumed_restore_to_a_directory_does_not_fetch_the_files_already_there(share: Share) -> None:
    """Resuming a stopped `restore .@REV -o OUT` fetched and rewrote every file again (review 6 trees T7). A
    file already there with the version's size, mode and mtime and its content is counted unchanged; one
    whose content differs (same size, mode and mtime) is written again."""
    for i in range(4):
        share.write(f"d/big{i}", os.urandom(100_000))
    os.symlink("big0", share.root / "d" / "link")
    share.push()
    out = share.tmp / "out"
    first = share.fog("restore", ".@~0", "-o", out, "--json").json()
    assert first["unchanged"] == 0 and first["bytes_written"] == 400_000, first
    (out / ".fog-tmp-restore-unfinished").touch()  # as a run stopped before its end leaves it
    spoiled = out / "d" / "big2"
    s = spoiled.stat()
    spoiled.write_bytes(os.urandom(100_000))
    os.utime(spoiled, ns=(s.st_atime_ns, s.st_mtime_ns))
    again = share.fog("restore", ".@~0", "-o", out, "--json").json()
    assert again["unchanged"] == 4 and again["written"] == ["d/big2"], again
    assert again["bytes_written"] == 100_000, again
    assert spoiled.read_bytes() == (share.root / "d" / "big2").read_bytes()
    assert not (out / ".fog-tmp-restore-unfinished").exists()


def test_ls_of_a_deleted_file_says_it_did_not_exist_then(share: Share) -> None:
    """`fog ls docs/b` of a deleted file said "docs/b was empty then" (review 6 trees T8 b)."""
    share.write("docs/a", "a\n")
    share.write("docs/b", "b\n")
    (share.root / "empty").mkdir()
    share.push()
    (share.root / "docs/b").unlink()
    share.push()
    assert share.fog("ls", "docs/b").err == "docs/b did not exist then (now)\n"
    assert share.fog("ls", "docs/b@~1").out == "b\n"
    assert share.fog("ls", "empty").err == "empty was empty then (now)\n"


def test_a_dry_run_refuses_what_the_real_run_refuses(share: Share) -> None:
    """`restore notes@ID -n` said "would restore notes" (exit 0) where the real run refused: "notes is a
    directory now" (exit 1) (review 6 trees T8 d)."""
    share.write("notes", "a file\n")
    share.push()
    (share.root / "notes").unlink()
    share.write("notes/in", "in\n")
    share.push()
    vid = next(v["version"] for v in share.log("notes") if v["path"] == "notes" and v["kind"] == "file")
    for extra in (["-n"], []):
        r = share.fog("restore", f"notes@{vid[:12]}", *extra, expect=1)
        assert "notes is a directory now" in r.one_line_error(), r
    assert (share.root / "notes/in").read_text() == "in\n"
    out = share.tmp / "out"
    out.mkdir()
    (out / "notes").write_text("taken\n")
    for extra in (["-n"], []):
        assert (
            "exists; pass --force"
            in share.fog("restore", f"notes@{vid[:12]}", "-o", out, *extra, expect=1).one_line_error()
        )
    doc = share.fog("restore", f"notes@{vid[:12]}", "-o", share.tmp / "out2", "-n", "--json").json()
    assert doc["written"] == ["notes"] and not (share.tmp / "out2").exists(), doc


def test_ages_read_min_mo_and_y_and_m_stays_minutes(share: Share) -> None:
    """`.@6m` is 6 minutes in a REV (documented since the first REVs) but `--keep-within 6m` is 6 months, as in
    restic (review 6 trees T8 e): `min` and `mo` say which in both."""
    share.write("f", "v1\n")
    share.push()
    assert share.fog("cat", "f@0m").out == share.fog("cat", "f@0min").out == "v1\n"
    assert "was empty then" in share.fog("ls", ".@1mo").err or "did not exist then" in share.fog("ls", ".@1mo").err
    r = share.fog("ls", ".@1y")
    assert "f" not in r.out, r.out
    assert share.fog("log", "--since", "30m", "f").out.count("\n") == 1


def test_json_gives_the_resolved_moment_as_a_utc_time(share: Share, monkeypatch: pytest.MonkeyPatch) -> None:
    """--json `moment` was only a label with a local time (review 6 trees T8 f): `moment_time` is the
    moment in ISO 8601 UTC to the nanosecond (null for the current state); a tree diff's sides likewise."""
    share.write("f", "v1\n")
    share.push()
    share.write("f", "v2\n")
    share.push()
    ns = share.fog("log", "--pushes", "--json").json()[0]["time_ns"] - 1  # right before the last push
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        doc = share.fog("ls", ".@~1", "--json").json()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    when = doc["moment_time"]
    assert "+05:30" in doc["moment"], doc
    assert when == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z", doc
    assert datetime.fromisoformat(when).utcoffset() == UTC.utcoffset(None)
    assert share.fog("cat", f"f@{when}").out == "v1\n"  # (a script can name that moment again)
    assert share.fog("ls", ".", "--json").json()["moment_time"] is None
    dry = share.fog("restore", ".@~1", "-n", "--json").json()
    assert dry["moment_time"] == when, dry
    diff = share.fog("diff", ".@~1", "--json").json()
    assert diff["old_time"] == when and diff["new_time"] is None, diff


def test_diff_exit_code_keeps_1_for_they_differ(share: Share) -> None:
    """review 7 newuser 4: with --exit-code, 1 means "they differ"; an error (no such path, a remote down)
    exited 1 too, so `if fog diff --exit-code F@~1; then` took a failure for a change. Now 128 (git's fatal)."""
    share.write("f.txt", "one\n")
    share.push()
    share.write("f.txt", "two\n")
    share.push()
    assert share.fog("diff", "--exit-code", "f.txt@~1", "f.txt@~1").rc == 0
    share.fog("diff", "--exit-code", "f.txt@~1", expect=1)
    line = share.fog("diff", "--exit-code", "nosuch.txt@~1", expect=128).one_line_error()
    assert "nosuch.txt" in line, line
    doc = share.fog("diff", "--exit-code", "--json", "nosuch.txt@~1", expect=128).err
    assert '"code": 128' in doc, doc
    share.fog("diff", "--exit-code", ".@nosuchpush", expect=128)
    share.fog("diff", "nosuch.txt@~1", expect=1)  # without --exit-code: as every other command
    share.fog("diff", "--exit-code", "--stat", "-p", expect=2)  # usage stays 2


def test_a_file_diff_counts_a_change_of_mode(share: Share) -> None:
    """review 7 newuser 6: `fog diff run.sh@~1 run.sh@~0` said "identical" (exit 0 under --exit-code) for two
    versions that differ only in mode, while status, push and the tree diff count the chmod."""
    share.write("run.sh", "echo hi\n")
    share.push()
    os.chmod(share.root / "run.sh", 0o755)
    share.push()
    r = share.fog("diff", "--exit-code", "run.sh@~1", "run.sh@~0", expect=1)
    assert r.out.splitlines() == ["old mode 0644", "new mode 0755"], r.out
    doc = share.fog("diff", "--json", "run.sh@~1", "run.sh@~0").json()
    assert not doc["identical"] and (doc["old"]["mode"], doc["new"]["mode"]) == ("0644", "0755"), doc
    os.chmod(share.root / "run.sh", 0o644)  # the working file against its last version
    share.fog("diff", "--exit-code", "run.sh", expect=1)
    share.write("run.sh", "echo bye\n")
    os.chmod(share.root / "run.sh", 0o755)
    out = share.fog("diff", "run.sh@~1").out.splitlines()  # against the working file
    assert out[:2] == ["old mode 0644", "new mode 0755"] and "+echo bye" in out, out
    assert share.fog("diff", "--exit-code", "run.sh@~0", "run.sh@~0").rc == 0


def test_delete_refuses_directories_never_pushed(share: Share) -> None:
    """review 7 history H6: `restore .@~1 --delete` removed directories made since the last push (status
    lists them as A) without --force, while a never-pushed file in their place is refused."""
    share.write("x", "x\n")
    share.push()
    share.write("y", "y\n")
    share.push()
    (share.root / "project" / "src").mkdir(parents=True)
    (share.root / "photos").mkdir()
    line = share.fog("restore", ".@~1", "--delete", expect=1).one_line_error()
    assert "never pushed" in line and "photos" in line, line
    assert (share.root / "project" / "src").is_dir() and (share.root / "photos").is_dir()
    share.fog("restore", ".@~1", "--delete", "--force")
    assert not (share.root / "photos").exists() and not (share.root / "y").exists()
    # a directory that was pushed, then is not in the tree of the moment, is removed as before
    share.write("d/f", "f\n")
    share.push()
    share.fog("restore", ".@~1", "--delete")
    assert not (share.root / "d").exists()
