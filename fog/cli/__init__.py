"""fog's command line: thin commands over fog.api, one module per command."""

from __future__ import annotations

import os
import sys

from fog.cli import (  # noqa: F401
    check_cmd,
    device_cmd,
    init_cmd,
    inspect_cmds,
    key_cmd,
    log_cmd,
    push_cmd,
    remote_cmd,
    restore_cmd,
    status_cmd,
    sync_cmds,
)
from fog.cli.app import app
from fog.cli.common import STATE
from fog.cli.complete import COMPLETE_VAR, enable_completion


def main() -> None:
    """Console entry point: never a traceback unless --debug."""
    for stream in (sys.stdout, sys.stderr):
        # File names that are not UTF-8 come back from the OS as surrogates; print
        # them as \udcXX escapes (valid in JSON strings) instead of crashing.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if os.environ.get(COMPLETE_VAR):  # a TAB in a shell that loaded completions/
        enable_completion()
    try:
        app()
    except KeyboardInterrupt:
        sys.stderr.write("fog: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, keep the traceback for --debug
        if STATE.debug or "--debug" in sys.argv:
            raise
        sys.stderr.write(f"fog: internal error: {type(exc).__name__}: {exc} (run with --debug for details)\n")
        sys.exit(1)
