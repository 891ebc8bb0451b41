"""The node holds no share key: it never imports what could hold one (STYLE.md, FORMAT.md section 17)."""

from __future__ import annotations

import subprocess
import sys

from fognode import node_env


def test_node_imports_nothing_that_holds_a_share_key() -> None:
    code = (
        "import sys, fog.node.server, fog.cli.serving; "
        "bad = [m for m in sys.modules if m in ('fog.store', 'fog.api') or m.startswith(('fog.repo', 'fog.sync'))]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=node_env(), check=True)
    assert out.stdout.strip() == "[]"
