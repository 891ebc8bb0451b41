"""A reader that goes away (`fog log | head -1`): fog ends quietly, as git does (issue 19)."""

from __future__ import annotations

import os
import subprocess

from fogcli import FOG, Share, env


def _piped(share: Share, args: list[str], read: int, *, fast: bool = True) -> tuple[int, bytes, str]:
    """Run fog with stdout into a pipe, read `read` bytes of it, close the pipe, and wait."""
    e = env()
    if not fast:
        e["FOG_NO_FAST"] = "1"
    proc = subprocess.Popen([*FOG, *args], cwd=share.root, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    got = proc.stdout.read(read) if read else b""
    proc.stdout.close()  # the reader is gone: every later write fails with EPIPE
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), got, err


def test_closed_pipe_ends_quietly(share: Share) -> None:
    for i in range(20):
        share.write(f"dir/file-{i:04d}.txt", f"{i}\n")
    share.write("big.bin", os.urandom(3 << 20))
    share.push()
    for i in range(20):
        share.write(f"new/file-{i:04d}.txt", f"{i}\n")
    # the reader leaves before fog writes: every write fails (a partial read would race with fog's writes)
    for args, fast in (
        (["log"], True),
        (["status"], True),
        (["log", "--json"], True),
        (["log"], False),
        (["status"], False),
        (["stats"], False),  # review 6 cli C3: rich's Console exited 1 without a word
        (["prune", "--dry-run"], False),
    ):
        rc, _, err = _piped(share, args, 0, fast=fast)  # fast=False: typer's path
        assert (rc, err) == (141, ""), (args, fast)
    rc, got, err = _piped(share, ["cat", "big.bin"], 10)  # 3 MiB: more than a pipe holds
    assert got == (share.root / "big.bin").read_bytes()[:10]
    assert (rc, err) == (141, "")
    fog = " ".join(FOG)
    for cmd in (f"{fog} log | head -1", f"{fog} status | head -3", f"{fog} cat big.bin | head -c 10 >/dev/null"):
        proc = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {cmd}"], cwd=share.root, env=env(), capture_output=True, timeout=120
        )
        assert proc.stderr == b"", (cmd, proc.stderr)
        assert proc.returncode in (0, 141), (cmd, proc.returncode)  # 0 when fog wrote it all before head left


def test_a_full_disk_under_stdout_is_one_line(share: Share) -> None:
    """`fog log > FILE` on a full disk said "internal error: OSError ... (run with --debug)"."""
    share.write("a.txt", "a\n")
    share.push()
    share.write("b.txt", "b\n")
    for args, fast in (
        (["log"], True),
        (["log"], False),
        (["log", "a.txt"], True),
        (["status"], True),
        (["status", "--json"], False),
        (["ls"], True),
        (["device", "list"], True),
        (["pull"], True),
    ):
        e = env()
        if not fast:
            e["FOG_NO_FAST"] = "1"
        with open("/dev/full", "wb") as full:
            proc = subprocess.run(
                [*FOG, *args], cwd=share.root, env=e, stdout=full, stderr=subprocess.PIPE, timeout=120
            )
        err = proc.stderr.decode()
        assert (proc.returncode, err) == (1, "fog: cannot write to standard output: No space left on device\n"), (
            args,
            fast,
        )


def test_a_closed_stdout(share: Share) -> None:
    """Review 6, cli C2: started with fd 1 closed (`fog sync -q >&-`), every command ended in a traceback and
    exit 1, a silent `sync -q` that did its work included. Now: what prints nothing runs as usual, what prints
    says in one line that it cannot, and no file fog opens takes fd 1."""
    share.write("a.txt", "a\n")
    share.push()
    share.write("b.txt", "b\n")
    fog = " ".join(FOG)
    for cmd, rc in (("sync -q", 0), ("--version", 1), ("status", 1), ("log a.txt", 1)):
        proc = subprocess.run(
            ["bash", "-c", f"{fog} {cmd} >&-"], cwd=share.root, env=env(), capture_output=True, timeout=120
        )
        err = proc.stderr.decode()
        assert proc.returncode == rc and "Traceback" not in err, (cmd, proc.returncode, err)
        assert err == ("" if rc == 0 else "fog: cannot write to standard output: Bad file descriptor (standard "
                       "output is closed)\n"), (cmd, err)  # fmt: skip
    assert share.fog("status", "--json").json()["clean"] is True  # the sync -q pushed b.txt
