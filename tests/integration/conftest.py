"""Fixtures for the integration tests (they reuse tests/cli/fogcli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "cli"))

from fogcli import Share, init_share  # noqa: E402


@pytest.fixture
def share(tmp_path: Path) -> Share:
    """A new share in tmp_path/share with a local directory remote at tmp_path/remote."""
    return init_share(tmp_path)
