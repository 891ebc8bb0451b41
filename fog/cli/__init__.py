"""fog's command line: thin commands over fog.api, one module per command."""

from __future__ import annotations

import os
import sys

COMPLETE_VAR = "_FOG_COMPLETE"  # fog.cli.complete checks it is the same


def main() -> None:
    """Console entry point: never a traceback unless --debug; SIGINT and SIGTERM stop it (fog.cli.interrupts)."""
    import gc

    # A command allocates hundreds of thousands of objects that live until it ends (versions, plans, stat
    # entries) and makes almost no cycles: at Python's default (700 allocations) the cycle collector ran
    # 4,668 times in a clone of 100,000 files, 1.1 CPU-s (0.4 s of a push of them). Rarely is enough
    # (benchmarks/gc_cost.py; benchmarks/README.md, session 18).
    gc.set_threshold(50_000, 20, 20)
    from fog.cancel import Cancelled
    from fog.cli.interrupts import Interrupts

    _closed_streams()
    for stream in (sys.stdout, sys.stderr):
        # File names that are not UTF-8 come back from the OS as surrogates; print
        # them as \udcXX escapes (valid in JSON strings) instead of crashing.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    from fog.cli.redact import RedactingStream

    stdout, stderr = sys.stdout, sys.stderr
    sys.stderr = RedactingStream(stderr)  # type: ignore[assignment]  # a password in a URL prints as ***
    sys.stdout = StdoutGuard(stdout)  # type: ignore[assignment]
    try:
        with Interrupts() as interrupts:
            try:
                try:
                    _main()
                finally:
                    sys.stdout.flush()  # what is still buffered fails here, not in the interpreter's exit
            except (Cancelled, KeyboardInterrupt) as exc:
                interrupts.exit(exc)
            except BrokenPipeError:
                _reader_gone()
            except StdoutFailed as exc:
                _stdout_failed(exc)
            except SystemExit as exc:
                if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
                    _reader_gone()  # typer met EPIPE on stdout (it says so by wrapping stdout) and chose 1
                raise
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _closed_streams() -> None:
    """Started with fd 0, 1 or 2 closed (`fog sync -q >&-`, a daemon's job runner): Python then sets the stream
    to None. Each such fd becomes /dev/null, so that no file fog opens later (a database, a pack) takes its
    number and receives what is printed; stdout then refuses what is written to it (one line, exit 1, as
    for a full disk) while a command that prints nothing (`sync -q`) runs as usual."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            except OSError:
                pass
        if name == "stdout":
            sys.stdout = _ClosedStdout()  # type: ignore[assignment]
        else:
            setattr(sys, name, open(os.devnull, "r" if fd == 0 else "w"))  # noqa: SIM115  (for the process)


class _ClosedStdout:
    """stdout when fd 1 was closed at start: what is written fails as a write to a closed file does."""

    encoding = "utf-8"

    def write(self, s: object) -> int:
        if s:
            raise OSError(9, "Bad file descriptor (standard output is closed)")
        return 0

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(9, "Bad file descriptor (standard output is closed)")


class StdoutFailed(Exception):
    """Writing to stdout failed (a full disk under `fog log > FILE`): not an OSError, so no command's
    handler of its own file errors takes it for one; `main` says it in one line."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))


class StdoutGuard:
    """stdout, whose write and flush failures (other than EPIPE: `_reader_gone`) raise StdoutFailed."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def write(self, s: object) -> int:
        try:
            return self.inner.write(s)  # type: ignore[attr-defined, no-any-return]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutFailed(exc) from exc

    def flush(self) -> None:
        try:
            self.inner.flush()  # type: ignore[attr-defined]
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutFailed(exc) from exc

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _stdout_failed(exc: StdoutFailed) -> None:
    """stdout cannot be written (a full disk): one line, exit 1; the rest of the output goes nowhere."""
    sys.stderr.write(f"fog: cannot write to standard output: {exc}\n")
    try:  # the interpreter flushes stdout at exit: not a second error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass
    sys.exit(1)


EXIT_PIPE = 141  # 128 + SIGPIPE: what git's (and any C tool's) status is when its reader went away


def _reader_gone() -> None:
    """stdout's reader went away (`fog log | head -1`): stop quietly with 141, as git does.

    fog does not die by SIGPIPE itself (Python ignores it, and the SSH transport
    needs it ignored); the status is the same for `set -o pipefail` scripts.
    """
    try:  # the interpreter flushes stdout at exit: send what is left nowhere instead of a second error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_PIPE)


def _main() -> None:
    if not os.environ.get(COMPLETE_VAR):
        try:
            from fog.cli import fast

            code = fast.run(sys.argv[1:])
        except (BrokenPipeError, StdoutFailed):
            raise
        except Exception as exc:  # a bug: say so in one line (--debug never takes this path)
            _internal_error(exc)
        if code is not None:
            sys.exit(code)
    from fog.cli.commands import STATE, app, enable_completion

    if os.environ.get(COMPLETE_VAR):  # a TAB in a shell that loaded completions/
        enable_completion()
    try:
        app()
    except (BrokenPipeError, StdoutFailed):
        raise
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if STATE.debug or "--debug" in sys.argv:
            raise
        _internal_error(exc)


def _internal_error(exc: Exception) -> None:
    """One line for what no command caught: a damaged database page (LMDB), else a bug (then exits 1)."""
    from fog.errors import database_error

    db_error = database_error(exc)
    if db_error is not None:
        sys.stderr.write(f"fog: {db_error}\n")
    else:
        sys.stderr.write(f"fog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)\n")
    sys.exit(1)
