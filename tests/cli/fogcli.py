"""Drive the real `fog` command line in subprocesses, and poke at a local remote.

Shared by tests/cli and tests/integration (their conftest.py files put this
directory on sys.path). Every run asserts that no traceback reached the user.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FOG = [sys.executable, "-m", "fog"]


@dataclass
class Result:
    """What one fog process did."""

    args: list[str]
    rc: int
    out: str
    err: str
    raw: bytes = b""  # stdout as bytes (for `restore -o -`)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.rc, self.out, self.err))

    def json(self) -> Any:
        """stdout as one JSON document, which must be valid UTF-8."""
        return json.loads(self.raw.decode("utf-8"))

    def one_line_error(self) -> str:
        """The single line a failing command printed on stderr."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
        return lines[0]

    def __str__(self) -> str:
        return f"fog {' '.join(self.args)} -> {self.rc}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def env() -> dict[str, str]:
    """The test process's environment (FOG_HOME set by the autouse fixture)."""
    e = dict(os.environ)
    e.pop("COLUMNS", None)
    e.pop("PYTHONUTF8", None)
    e["PYTHONIOENCODING"] = "utf-8"  # strict, as on a desktop with a UTF-8 locale
    return e


def check_clean(r: Result) -> Result:
    assert "Traceback" not in r.err and "Traceback" not in r.out, str(r)
    return r


# fog runs in this process by default: fog.cli.main() with argv, cwd, stdout and
# stderr swapped (~20x faster than a fresh interpreter, which costs ~0.5 s).
# An exception escaping main() fails the test just as a traceback would.
# Tests pass sub=True where the process boundary matters (exit status as the
# OS sees it, stderr of a real process, locks, wrappers); FOGTEST_SUBPROCESS=1
# runs every command in its own process.
ALWAYS_SUBPROCESS = os.environ.get("FOGTEST_SUBPROCESS") == "1"


def run_fog(
    args: Sequence[str | os.PathLike[str]],
    cwd: Path,
    *,
    expect: int | None = 0,
    timeout: float = 600,
    prefix: Sequence[str] | None = None,
    subprocess_: bool = False,
) -> Result:
    """Run `fog ARGS` in cwd; assert the exit code unless expect is None."""
    argv = [os.fspath(a) for a in args]
    apart = ALWAYS_SUBPROCESS or prefix is not None or bool(subprocess_)
    if apart:
        proc = subprocess.run(
            [*(prefix or FOG), *argv],
            cwd=cwd,
            env=env(),
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        rc, raw, err = proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")
    else:
        rc, raw, err = _in_process(argv, cwd)
    r = Result(argv, rc, raw.decode(errors="replace"), err, raw)
    check_clean(r)
    if expect is not None:
        assert r.rc == expect, str(r)
    return r


def _in_process(argv: list[str], cwd: Path) -> tuple[int, bytes, str]:
    """fog.cli.main() in this process, with argv, cwd, stdout and stderr swapped (and the umask kept: `fog serve`
    sets 077 for its process, and a refused `serve --listen ''` left every later test's files 0600)."""
    from fog.cli import main

    out = io.BytesIO()
    err = io.StringIO()
    saved = sys.argv, sys.stdout, sys.stderr, os.getcwd()
    mask = os.umask(0o022)  # (restored below: `fog serve` makes it 077 for its process, and this is the tests')
    os.umask(mask)
    sys.argv = ["fog", *argv]
    text_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stdout, sys.stderr = text_out, err
    os.chdir(cwd)
    try:
        main()
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        text_out.flush()
        sys.argv, sys.stdout, sys.stderr = saved[:3]
        os.chdir(saved[3])
        os.umask(mask)
    raw = out.getvalue()
    text_out.detach()
    return rc, raw, err.getvalue()


def wrapper_script(code: str) -> str:
    """A `python -c` script: run `code` (it may monkeypatch fog or os), then fog with argv."""
    return textwrap.dedent(code) + textwrap.dedent(
        """
        import sys as _sys
        _sys.argv = ["fog", *_sys.argv[1:]]
        from fog.cli import main as _main
        _main()
        """
    )


def run_wrapped(
    code: str, args: Sequence[str | os.PathLike[str]], cwd: Path, *, expect: int | None = 0, timeout: float = 600
) -> Result:
    """Run fog in a fresh interpreter after executing `code` (see wrapper_script)."""
    return run_fog(args, cwd, expect=expect, timeout=timeout, prefix=[sys.executable, "-c", wrapper_script(code)])


@dataclass
class Share:
    """A share made by `fog init` with a local directory remote."""

    root: Path
    remote: Path
    key_file: Path
    tmp: Path
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def fog(
        self, *args: str | os.PathLike[str], expect: int | None = 0, cwd: Path | None = None, sub: bool = False
    ) -> Result:
        """Run fog in the share (or cwd); sub=True runs it in a fresh process."""
        return run_fog(args, cwd or self.root, expect=expect, subprocess_=sub)

    def push(self, *extra: str) -> dict[str, Any]:
        doc = self.fog("push", "--json", *extra).json()
        self.pushes.append(doc)
        return doc

    def log(self, path: str) -> list[dict[str, Any]]:
        return self.fog("log", "--json", path).json()

    def write(self, rel: str, data: bytes | str, mode: int | None = None) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def packs(self) -> list[Path]:
        """Every pack file on the remote."""
        return sorted(p for p in self.remote.glob("shares/*/packs/*/*") if p.is_file())

    def objects(self) -> list[StoredObject]:
        """Every stored object on the remote, in pack order (pack headers opened with this user's keys)."""
        from fog.repo.identity import Identity
        from fog.store import Remote

        ident = Identity.load(Path(os.environ["FOG_HOME"]))
        out: list[StoredObject] = []
        for pack in self.packs():
            locator = pack.parts[-4]
            store = Remote(open_local(self.remote)).share(ident.share_keys(locator))
            index = store.read_index(bytes.fromhex(pack.name))
            out += [StoredObject(pack, i.hex(), off, n, locator) for i, off, n in index]
        for p in sorted(self.remote.glob("shares/*/objects/*/*")):  # loose (format 1)
            if p.is_file():
                out.append(StoredObject(p, p.name, 1, p.stat().st_size - 1, p.parts[-4]))
        return out

    def log_files(self) -> list[Path]:
        return sorted(p for p in self.remote.glob("shares/*/log/*/*") if p.is_file())


def init_share(tmp: Path, name: str = "share", *extra: str) -> Share:
    root = tmp / name
    remote = tmp / "remote"
    key = tmp / "master.key"
    r = run_fog(["init", root, "--remote", remote, "--master-key-file", key, *extra], tmp)
    assert key.is_file() and (root / ".fog").is_dir(), str(r)
    assert oct(key.stat().st_mode & 0o777) == oct(0o600)
    return Share(root, remote, key, tmp)


def remote_bytes(remote: Path) -> int:
    """Total size of every file under a remote directory."""
    total = 0
    for dirpath, _, files in os.walk(remote):
        for fn in files:
            total += os.lstat(os.path.join(dirpath, fn)).st_size
    return total


@dataclass(frozen=True)
class StoredObject:
    """One object on a local remote: a slice of a pack file (or a whole loose object file)."""

    file: Path
    name: str  # the object id, hex
    offset: int  # where its stored bytes start in `file` (after the version byte for loose files)
    length: int
    share: str  # the share locator

    def read_bytes(self) -> bytes:
        with open(self.file, "rb") as f:
            f.seek(self.offset)
            return f.read(self.length)

    def write_bytes(self, data: bytes) -> None:
        """Replace the object's bytes in place (a different length moves the pack's later objects too)."""
        whole = self.file.read_bytes()
        self.file.write_bytes(whole[: self.offset] + data + whole[self.offset + self.length :])


def open_local(path: Path) -> Any:
    from fog.backends.local import LocalBackend

    return LocalBackend(Path(path))


def flip_bit(path: Path | StoredObject, offset: int | None = None, bit: int = 0) -> None:
    """Flip one bit of a file or stored object (in its middle by default); calling it again undoes it."""
    if isinstance(path, StoredObject):
        offset = path.offset + (path.length // 2 if offset is None else offset)
        path = path.file
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 1 << bit
    path.write_bytes(bytes(data))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def leftovers(directory: Path) -> list[str]:
    """Files in a tree that look like an unfinished write (temp names, .fog/tmp contents)."""
    found = []
    for p in directory.rglob("*"):
        rel = p.relative_to(directory).as_posix()
        if ".fog-tmp" in p.name or p.name.startswith(".tmp-") or rel.startswith(".fog/tmp/"):
            found.append(rel)
    return sorted(found)
