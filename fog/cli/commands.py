"""The full typer application: importing this registers every command on `app`."""

from __future__ import annotations

from fog.cli import (  # noqa: F401
    check_cmd,
    device_cmd,
    find_cmd,
    forget_cmd,
    init_cmd,
    inspect_cmds,
    key_cmd,
    log_cmd,
    ls_cmd,
    mount_cmd,
    policy_cmd,
    prune_cmd,
    push_cmd,
    remote_cmd,
    restore_cmd,
    serve_cmd,
    share_cmd,
    stats_cmd,
    status_cmd,
    sync_cmds,
)
from fog.cli.app import app
from fog.cli.common import STATE
from fog.cli.complete import COMPLETE_VAR, enable_completion

__all__ = ["COMPLETE_VAR", "STATE", "app", "enable_completion"]
