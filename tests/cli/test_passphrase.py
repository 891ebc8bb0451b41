"""FOG_HOME sealed under a passphrase (`fog key protect`, issue 17): real fog processes, real Argon2id.

Every command that runs here is a fresh process (sub=True): a key derived in
one process must not make another one succeed.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shlex
import sys
import time
from pathlib import Path

import pytest
from fogcli import FOG, Share, run_fog

from fog.crypto.keys import master_key_to_text
from fog.repo.identity import Identity

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import man_text  # noqa: E402

SEALED = b"fog-sealed 1\n"
SECRET_FILES = ("identity.json", "master-key", "master-key.old", "syncconfig.json")


def _home() -> Path:
    return Path(os.environ["FOG_HOME"])


def _passphrase_command(tmp: Path, passphrase: str, name: str = "passphrase") -> str:
    path = tmp / name
    path.write_text(passphrase + "\n")
    return shlex.join(["cat", str(path)])


def _secrets(home: Path) -> list[bytes]:
    """Every secret the home holds (read while it is in clear): keys as hex, the master key's text."""
    ident = Identity.load(home)
    config = ident.cached_config()
    assert config is not None
    found = [ident.device_secret.hex(), ident.sign_secret.hex(), ident.user_secret.hex()]
    for share in config.shares.values():
        found += [str(share["data_key"]), str(share["mac_key"])]
    text = master_key_to_text(ident.master_key)
    return [s.encode() for s in [*found, text, text.replace("-", "")]]


def _assert_nothing_in_clear(home: Path, secrets: list[bytes]) -> None:
    for path in home.iterdir():
        data = path.read_bytes()
        if path.name in SECRET_FILES:
            assert data.startswith(SEALED), path.name
        for secret in secrets:
            assert secret not in data and secret.upper() not in data, f"{path.name} holds a secret in clear"


def _files(home: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(home.iterdir())}


def test_a_protected_home_keeps_every_command_working(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home()
    share.write("a.txt", "one\n")
    share.push()
    secrets = _secrets(home)
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "correct horse battery"))
    doc = share.fog("key", "protect", "--json", sub=True).json()
    files = ["identity.json", "master-key", "syncconfig.json"]
    assert doc == {"home": str(home), "protected": True, "changed": False, "files": files}
    assert list(doc) == man_text.JSON_FIELDS["key protect"] == man_text.JSON_FIELDS["key unprotect"]
    _assert_nothing_in_clear(home, secrets)

    share.write("a.txt", "two\n")
    assert share.fog("push", "--json", sub=True).json()["modified"] == ["a.txt"]
    assert [e["size"] for e in json.loads(share.fog("log", "a.txt", "--json", sub=True).out)] == [4, 4]
    assert share.fog("key", "show", "--json", sub=True).json()["protected"] is True
    # init on a protected home: the new share's keys are sealed too
    run_fog(["init", "other", "--remote", "remote-other"], tmp_path, subprocess_=True)
    (tmp_path / "other" / "b.txt").write_text("bee\n")
    run_fog(["push", "-q"], tmp_path / "other", subprocess_=True)
    secrets = _secrets_now(home)
    _assert_nothing_in_clear(home, secrets)

    # a second device, protected under its own passphrase, clones both shares and pushes
    home2 = tmp_path / "home2"
    monkeypatch.setenv("FOG_HOME", str(home2))
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "second device", "passphrase2"))
    run_fog(
        ["clone", share.remote, tmp_path / "clone", "--master-key-file", share.key_file], tmp_path, subprocess_=True
    )
    run_fog(["key", "protect"], tmp_path, subprocess_=True)
    # the master key for this clone is FOG_HOME/master-key, sealed
    run_fog(["clone", "remote-other", "clone-other", "--share", "other"], tmp_path, subprocess_=True)
    assert (tmp_path / "clone-other" / "b.txt").read_text() == "bee\n"
    (tmp_path / "clone" / "c.txt").write_text("sea\n")
    run_fog(["sync", "-q"], tmp_path / "clone", subprocess_=True)
    _assert_nothing_in_clear(home2, _secrets_now(home2))

    monkeypatch.setenv("FOG_HOME", str(home))
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "correct horse battery"))
    share.fog("pull", "-q", sub=True)
    assert (share.root / "c.txt").read_text() == "sea\n"
    _assert_nothing_in_clear(home, secrets)

    doc = share.fog("key", "unprotect", "--json", sub=True).json()
    assert doc == {"home": str(home), "protected": False, "changed": True, "files": files}
    monkeypatch.delenv("FOG_PASSPHRASE_COMMAND")
    assert not any((home / n).read_bytes().startswith(SEALED) for n in SECRET_FILES if (home / n).exists())
    share.write("a.txt", "three\n")
    share.fog("sync", "-q", sub=True)
    assert share.fog("key", "unprotect", sub=True).out.endswith("is not sealed under a passphrase: nothing to do\n")


def _secrets_now(home: Path) -> list[bytes]:
    """The home's secrets, read through its passphrase (FOG_PASSPHRASE_COMMAND) in a separate process."""
    code = (
        "import json, sys; from pathlib import Path; sys.argv = ['fog']\n"
        "from fog.cli.sources import use_passphrase_source; use_passphrase_source()\n"
        "from fog.repo.identity import Identity; from fog.crypto.keys import master_key_to_text\n"
        f"i = Identity.load(Path({str(home)!r})); c = i.cached_config()\n"
        "s = [i.device_secret.hex(), i.sign_secret.hex(), i.user_secret.hex(), master_key_to_text(i.master_key)]\n"
        "s += [str(v[k]) for v in c.shares.values() for k in ('data_key', 'mac_key')]\n"
        "print(json.dumps(s))\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    found = json.loads(out)
    assert len(found) >= 6
    return [s.encode() for s in [*found, found[3].replace("-", "")]]


def _pushed_and_protected(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A share with one push, its FOG_HOME then sealed under "correct horse" (given by the command)."""
    share.write("a.txt", "one\n")
    share.push()
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "correct horse"))
    share.fog("key", "protect", sub=True)
    return _home()


def test_a_wrong_passphrase_is_one_line_and_changes_nothing(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _pushed_and_protected(share, tmp_path, monkeypatch)
    share.write("a.txt", "changed\n")
    before = _files(home)
    remote = sorted(p.relative_to(share.remote) for p in share.remote.rglob("*"))
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "wrong horse", "wrong"))
    for argv in (["push"], ["status"], ["log", "a.txt"], ["key", "show"], ["key", "unprotect"], ["key", "protect"]):
        r = share.fog(*argv, expect=1, sub=True)
        assert r.one_line_error() == f"fog: wrong passphrase for {home} (identity.json does not open with it); " + (
            "nothing was changed"
        ), argv
    r = share.fog("push", "--json", expect=1, sub=True)
    assert json.loads(r.one_line_error())["kind"] == "passphrase"
    assert _files(home) == before
    assert sorted(p.relative_to(share.remote) for p in share.remote.rglob("*")) == remote


def test_no_passphrase_and_no_terminal_is_the_documented_error(
    share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _pushed_and_protected(share, tmp_path, monkeypatch)
    monkeypatch.delenv("FOG_PASSPHRASE_COMMAND")
    expected = (
        f"fog: {home} is sealed under a passphrase: set FOG_PASSPHRASE_COMMAND (a command that prints it, "
        "for cron), or run fog on a terminal"
    )
    for argv in (["sync", "--quiet"], ["log", "a.txt"], ["status"], ["key", "protect"]):
        assert share.fog(*argv, expect=1, sub=True).one_line_error() == expected, argv
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", "false")
    line = share.fog("status", expect=1, sub=True).one_line_error()  # (review 6 cli: a dangling colon)
    assert line == "fog: FOG_PASSPHRASE_COMMAND exited 1 (it said nothing on stderr)"
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", "/nonexistent/pass show fog")
    assert share.fog("status", expect=1, sub=True).one_line_error().startswith("fog: FOG_PASSPHRASE_COMMAND failed")


def test_changing_the_passphrase(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home()
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "old horse"))
    share.fog("key", "protect", sub=True)
    r = share.fog("key", "protect", expect=1, sub=True)  # the current one from the command; the new from where?
    assert "set FOG_NEW_PASSPHRASE_COMMAND" in r.one_line_error()
    monkeypatch.setenv("FOG_NEW_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "new horse", "new"))
    doc = share.fog("key", "protect", "--json", sub=True).json()
    assert doc["changed"] is True and doc["protected"] is True
    monkeypatch.delenv("FOG_NEW_PASSPHRASE_COMMAND")
    assert "wrong passphrase" in share.fog("status", expect=1, sub=True).one_line_error()
    monkeypatch.setenv("FOG_PASSPHRASE_COMMAND", _passphrase_command(tmp_path, "new horse", "new"))
    share.fog("status", sub=True)
    assert (home / "master-key").read_bytes().startswith(SEALED)


def test_a_damaged_sealed_file_is_one_clear_line(share: Share, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _pushed_and_protected(share, tmp_path, monkeypatch)
    path = home / "syncconfig.json"
    stored = path.read_bytes()
    i = stored.index(b'"box":"') + 7 + 100
    path.write_bytes(stored[:i] + (b"0" if stored[i : i + 1] != b"0" else b"1") + stored[i + 1 :])
    r = share.fog("push", expect=1, sub=True)
    assert r.one_line_error() == (
        f"fog: {path} is damaged (it does not open with the passphrase that opens identity.json); delete it: "
        "it is a cache of your fog settings (devices, shares) on the remote, fetched again by the next pull or push"
    )
    path.write_bytes(SEALED + b"{}")
    assert (
        "syncconfig.json is damaged (its JSON is not an object of exactly"
        in share.fog("status", expect=1, sub=True).one_line_error()
    )
    path.unlink()  # as the line says: the next pull fetches it again, and seals it
    share.fog("pull", "-q", sub=True)
    assert path.read_bytes().startswith(SEALED)
    (home / "identity.json").write_bytes(stored[:50])
    r = share.fog("status", expect=1, sub=True)
    assert r.one_line_error().startswith(f"fog: {home / 'identity.json'} is damaged (its JSON does not parse")


def _on_a_terminal(args: list[str], cwd: Path, answers: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run fog with a pseudo-terminal as its controlling terminal; answer each passphrase prompt in turn."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: fog, with the pty as its terminal
        try:
            os.chdir(cwd)
            os.execvpe(FOG[0], [*FOG, *args], dict(os.environ))
        finally:
            os._exit(127)
    out = b""
    answered = 0  # how much of `out` the answers so far replied to
    answers = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if answers and out[answered:].rstrip().endswith(b":"):
                os.write(fd, answers.pop(0).encode() + b"\n")
                answered = len(out)
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace").replace("\r\n", "\n")


def test_on_a_terminal_protect_asks_twice_and_commands_ask_once(share: Share, tmp_path: Path) -> None:
    home = _home()
    rc, out = _on_a_terminal(["key", "protect"], share.root, ["correct horse", "correct hose"])
    assert rc == 1 and "New passphrase:" in out and "The same again:" in out
    assert out.strip().endswith("fog: the two passphrases differ; nothing was changed"), out
    assert not (home / "identity.json").read_bytes().startswith(SEALED)
    rc, out = _on_a_terminal(["key", "protect"], share.root, ["correct horse", "correct horse"])
    assert rc == 0, out
    assert (home / "identity.json").read_bytes().startswith(SEALED)
    assert "correct horse" not in out  # no echo
    rc, out = _on_a_terminal(["status"], share.root, ["correct horse"])
    assert rc == 0 and out.count(f"Passphrase of {home}:") == 1, out
    rc, out = _on_a_terminal(["status"], share.root, ["wrong horse"])
    assert rc == 1 and out.strip().endswith("(identity.json does not open with it); nothing was changed"), out
