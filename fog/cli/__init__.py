"""fog's command line: thin commands over fog.api, one module per command."""

from __future__ import annotations

import sys

from fog.cli import (  # noqa: F401
    check_cmd,
    device_cmd,
    init_cmd,
    log_cmd,
    push_cmd,
    remote_cmd,
    restore_cmd,
    status_cmd,
    sync_cmds,
)
from fog.cli.app import app
from fog.cli.common import STATE


def main() -> None:
    """Console entry point: never a traceback unless --debug."""
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
