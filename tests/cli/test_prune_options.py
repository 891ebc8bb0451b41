"""fog prune's option parsing."""

from __future__ import annotations

import pytest

from fog.cli.prune_cmd import parse_grace
from fog.errors import UsageError


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("0s", 0), ("24h", 86400), ("30min", 1800), ("90s", 90)])
def test_grace(text: str, seconds: int) -> None:
    assert parse_grace(text) == seconds


@pytest.mark.parametrize("text", ["0.5s", "1.5h", "", "soon", "-1h"])
def test_grace_refused(text: str) -> None:
    """A fraction is refused: 0.5s once truncated to 0, which means 'no other device pushes'."""
    with pytest.raises(UsageError):
        parse_grace(text)
