"""Small command-line edges (issue 19): help text, usage errors."""

from __future__ import annotations

import os
from pathlib import Path

from fogcli import Share, run_fog


def test_help_lists_commands_by_use_without_cutting_them(share: Share) -> None:
    out = run_fog(["--help"], share.root).out
    listed = [
        line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.startswith("  ") and line[2] != " "
    ]
    assert listed[:8] == ["status", "push", "pull", "sync", "log", "diff", "cat", "restore"]
    assert "..." not in out.split("Commands:")[1]  # every first sentence whole (diff's was cut)
    diff_line = out.split("\n  diff ")[1].split("\n  cat ")[0]
    assert " ".join(diff_line.split()).endswith("sizes otherwise)."), diff_line  # diff's whole first sentence


def test_group_help_lists_its_commands_whole_in_their_order(share: Share) -> None:
    """`fog remote -h`, `fog device -h`, `fog key -h` cut each summary at 80 columns with "..." (the top
    level's fix did not reach the groups)."""
    for group in ("remote", "device", "key", "share", "policy"):
        out = run_fog([group, "-h"], share.root).out
        assert "..." not in out.split("Commands:")[1], out
    out = run_fog(["remote", "-h"], share.root).out.split("Commands:")[1]
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and line[2] != " "]
    assert listed == ["list", "add", "remove", "set-url", "renew", "skip", "unskip"]  # (as defined, not sorted)
    assert "versions still to publish." in " ".join(out.split())


def test_optional_arguments_are_bracketed_once(share: Share) -> None:
    for cmd, arg in (("push", "REMOTE"), ("pull", "REMOTE"), ("log", "PATH"), ("diff", "PATH@REV2")):
        out = run_fog([cmd, "--help"], share.root).out
        assert f"[{arg}]" in out and f"[[{arg}]]" not in out, cmd


def test_a_bad_count_is_one_usage_line(share: Share) -> None:
    r = share.fog("log", "-n", "x", expect=2)
    assert r.one_line_error() == "fog: -n 'x': give a whole number of versions, 0 or more"
    r = share.fog("log", "--max-count=-1", "--json", expect=2)
    assert "whole number" in r.err and "pydantic" not in r.err and "Input should be" not in r.err


def test_clone_help_names_every_key_source(share: Share) -> None:
    out = " ".join(run_fog(["clone", "--help"], share.root).out.split())
    for words in ("FOG_MASTER_KEY_FILE", "FOG_MASTER_KEY_COMMAND", "prompt on the terminal", "--master-key-file"):
        assert words in out, words


def test_bash_adds_no_space_after_a_path_that_may_take_a_rev(share: Share) -> None:
    import os
    import shlex
    import subprocess
    import sys

    share.write("notes.txt", "one\n")
    share.push()
    root = Path(__file__).resolve().parents[2]
    fog_bin = Path(sys.executable).parent

    def tab(*words: str) -> tuple[list[str], str]:
        script = (
            f"source {root / 'completions' / 'fog.bash'}\n"
            'compopt() { NOSPACE="$1 $2"; }\n'  # (bash's own works only inside a completion)
            f"COMP_WORDS=(fog {' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words)}\n"
            '_fog_completion fog; printf "%s\\n" "${COMPREPLY[@]}"; echo "nospace=$NOSPACE"\n'
        )
        env = {**os.environ, "PATH": f"{fog_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.run(["bash", "--norc", "-c", script], cwd=share.root, env=env, capture_output=True, text=True)
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
        *lines, flag = proc.stdout.splitlines()
        return [x for x in lines if x], flag

    assert tab("restore", "not") == (["notes.txt"], "nospace=-o nospace")
    assert tab("cat", "not") == (["notes.txt"], "nospace=-o nospace")
    assert tab("log", "not") == (["notes.txt"], "nospace=")  # log takes no @REV: a space, as usual
    assert tab("pu")[1] == "nospace="


def test_diff_of_a_fifo_in_place_of_a_file_says_so(share: Share) -> None:
    """`fog diff a.txt` where a.txt became a FIFO opened it and waited for a writer for ever."""
    share.write("a.txt", "a\n")
    share.push()
    (share.root / "a.txt").unlink()
    os.mkfifo(share.root / "a.txt")
    r = run_fog(["diff", "a.txt"], share.root, expect=1, timeout=30, subprocess_=True)
    line = r.one_line_error()
    assert "a.txt is not a regular file" in line, line


def test_restore_into_a_missing_directory_names_it_not_a_temp_file(share: Share, tmp_path: Path) -> None:
    """`fog restore a.txt -o /missing/dir/x` said "No such file or directory: /missing/dir/.fog-tmp-…"."""
    share.write("a.txt", "a\n")
    share.push()
    out = tmp_path / "missing" / "x"
    line = share.fog("restore", "a.txt", "-o", out, expect=1).one_line_error()
    assert f"no directory {out.parent}" in line and ".fog-tmp" not in line, line
    assert not out.parent.exists()


def test_restore_output_inside_dot_fog_is_refused(share: Share) -> None:
    """`fog restore a -o .fog/config.json --force` overwrote fog's own state: every command then failed."""
    share.write("a.txt", "a\n")
    share.push()
    for out in (".fog/config.json", ".fog/tmp/x", ".fog"):
        line = share.fog("restore", "a.txt", "-o", out, "--force", expect=1).one_line_error()
        assert "fog's own state" in line, line
    share.fog("status")


def test_control_characters_in_paths_are_escaped_in_every_listing(share: Share) -> None:
    """Attacker review: a file named "evil\\nM forged\\x1b[31mRED" printed its newline and escape sequence
    raw, so `log`, `status`, `ls`, `find`... showed a forged line (and a member could plant such a name)."""
    evil = "evil\nM forged\x1b[31mRED"
    escaped = "evil\\nM forged\\x1b[31mRED"
    share.write(evil, "one\n")
    share.write("sub/" + evil, "one\n")
    share.push()
    share.write(evil, "two\n")
    outputs = {
        "status": share.fog("status"),
        "push -n": share.fog("push", "-n"),
        "log": share.fog("log", "-n", "5"),
        "log FILE": share.fog("log", evil),
        "ls": share.fog("ls", "-l"),
        "ls -R": share.fog("ls", "-R", "."),
        "find": share.fog("find", "*evil*"),
        "diff": share.fog("diff", evil),
        "diff tree": share.fog("diff", ".@~0", "--name-status"),
    }
    share.push()
    (share.root / evil).unlink()
    outputs["restore -n"] = share.fog("restore", ".@~0", "--dry-run")
    outputs["forget -n"] = share.fog("forget", "--keep-last", "1", "--dry-run", evil)
    for what, r in outputs.items():
        text = r.out + r.err
        assert "\x1b[31m" not in text and "\nM forged" not in text, (what, text)
        assert escaped in text, (what, text)


def test_a_name_that_is_not_utf8_prints_its_bytes_as_the_shell_writes_them(share: Share) -> None:
    """A byte of a name that is not UTF-8 printed as Python's surrogate (`caf\\udce9.txt`), which nothing
    reads back; `caf\\xe9.txt` is what a shell's $'...' turns into the name again."""
    name = os.fsdecode(b"caf\xe9.txt")
    share.write(name, "one\n")
    share.push()
    for r in (share.fog("log", "-n", "1"), share.fog("ls"), share.fog("log", name)):
        assert "caf\\xe9.txt" in r.out and "udce9" not in r.out, r.out


def test_the_log_of_a_deleted_path_marks_the_deletion_current(share: Share) -> None:
    """README: the newest version is marked (current); JSON said `current` for a deletion, the text did not."""
    share.write("gone.txt", "z\n")
    share.push()
    (share.root / "gone.txt").unlink()
    share.push()
    assert share.fog("log", "gone.txt", "--json").json()[0]["current"] is True
    first = share.fog("log", "gone.txt").out.splitlines()[0]
    assert "current" in first and "deleted" in first, first


def _specials(where: Path) -> list[Path]:
    """A FIFO, a socket and (when this process may make one) a character device like /dev/null."""
    import socket
    import stat

    os.mkfifo(where / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(where / "sock"))
    sock.close()
    made = [where / "fifo", where / "sock"]
    try:
        os.mknod(where / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made.append(where / "null")
    except PermissionError:
        pass
    return made


def test_restore_never_replaces_a_device_fifo_or_socket(share: Share, tmp_path: Path) -> None:
    """`fog restore f -o /dev/full --force`, run as root, replaced the device node with a regular file."""
    share.write("a.txt", "a\n")
    share.write("d/b.txt", "b\n")
    share.push()
    where = tmp_path / "specials"
    where.mkdir()
    specials = _specials(where)
    before = {p: (p.lstat().st_ino, p.lstat().st_mode) for p in specials}
    for p in specials:
        for force in ((), ("--force",)):
            line = share.fog("restore", "a.txt", "-o", p, *force, expect=1).one_line_error()
            assert f"{p} is a" in line and "not a regular file" in line, line
            line = share.fog("restore", "d@~0", "-o", p, *force, expect=1).one_line_error()  # a tree
            assert f"{p} is a" in line and "not a regular file" in line, line
    # -o DIR puts the file in it, under its name: there too
    os.rename(where / "fifo", where / "a.txt")
    line = share.fog("restore", "a.txt", "-o", where, "--force", expect=1).one_line_error()
    assert "a FIFO" in line, line
    os.rename(where / "a.txt", where / "fifo")
    # a tree restored into a directory (--force: not empty) keeps its hands off them too
    out = tmp_path / "out"
    (out / "d").mkdir(parents=True)
    os.mkfifo(out / "d" / "b.txt")
    line = share.fog("restore", "d@~0", "-o", out, "--force", expect=1).one_line_error()
    assert "a FIFO" in line, line
    assert (out / "d" / "b.txt").is_fifo()
    assert {p: (p.lstat().st_ino, p.lstat().st_mode) for p in specials} == before
    # stdout is not a destination file
    assert share.fog("restore", "a.txt", "-o", "-").out == "a\n" and share.fog("cat", "a.txt").out == "a\n"


def test_an_empty_option_value_is_a_usage_error_not_the_default(share: Share, tmp_path: Path) -> None:
    """Review 6, cli C5: `--listen "$FOG_LISTEN"` with the variable unset listened on every interface;
    `--at ''` mounted the share as it is now; `--device ''` listed every device."""
    share.write("a.txt", "a\n")
    share.push()
    for args, flag in (
        (["serve", str(tmp_path / "node"), "--listen", ""], "--listen"),
        (["serve", str(tmp_path / "node"), "--listen", " "], "--listen"),
        (["mount", str(tmp_path / "mnt"), "--at", ""], "--at"),
        (["log", "--device", ""], "--device"),
        (["log", "--pushes", "--device", ""], "--device"),
    ):
        line = share.fog(*args, expect=2).one_line_error()
        assert line.startswith(f"fog: {flag} "), line
    assert not (tmp_path / "node").exists()  # refused before anything was made (or the umask changed)


def test_sftp_url_options_are_checked_as_s3_ones_are(share: Share) -> None:
    """Review 6, remotes R12: `?timout=5` was ignored without a word (S3 refuses it); `connections=-1`, 0 and
    100000 were taken (then clamped). Refused before anything connects."""
    for query, words in (
        ("timout=5", "unknown sftp option(s) timout"),
        ("connections=0", "connections=0: give 1 to 64"),
        ("connections=-1", "connections=-1"),
        ("connections=100000", "connections=100000"),
    ):
        line = share.fog("remote", "add", "x", f"sftp://127.0.0.1:1/d?{query}", expect=2).one_line_error()
        assert words in line, line
