"""fog prune's option parsing."""

from __future__ import annotations

import pytest

from fog.cli.prune_cmd import parse_grace
from fog.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("0s", 0), ("24h", 86400), ("30min", 1800), ("90", 90), ("1.5m", 90), ("0.5s", 1), ("0.001h", 4)],
)
def test_grace(text: str, seconds: int) -> None:
    """A fraction rounds up: a grace given as 0.5s must still wait, not mean 'no other device pushes'."""
    assert parse_grace(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "-1h", "1.2.3s"])
def test_grace_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_grace(text)
