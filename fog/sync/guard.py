"""--max-delete: refuse a run that would delete too much at once.

An emptied directory (a disk that did not mount, a mistaken `rm -r`) or
ransomware that renames everything looks to a sync tool like a mass deletion.
Pushing it would spread the damage to every device; pulling it would apply it.
Above the limit, fog refuses before changing anything and says how to proceed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fog.errors import FogError, UsageError

DEFAULT = "50%"
DEFAULT_FLOOR = 10  # the default never refuses this many deletions or fewer


@dataclass(frozen=True)
class DeleteLimit:
    count: int | None = None
    percent: float | None = None
    floor: int = 0

    @classmethod
    def parse(cls, text: str | None) -> DeleteLimit:
        """`N` (files), `P%` (of the files fog tracks here), or None for the default."""
        if text is None:
            return cls(percent=float(DEFAULT.rstrip("%")), floor=DEFAULT_FLOOR)
        m = re.fullmatch(r"([0-9]{1,18})(%?)", text.strip())
        if not m:
            raise UsageError(f"--max-delete {text!r}: give a number of files (100) or a percentage (25%)")
        value = int(m.group(1))
        if m.group(2):
            if value > 100:
                raise UsageError("--max-delete: a percentage is at most 100%")
            return cls(percent=float(value))
        return cls(count=value)

    def allowed(self, tracked: int) -> int:
        if self.count is not None:
            return self.count
        assert self.percent is not None
        return max(self.floor, int(tracked * self.percent / 100))

    def check(self, deletions: int, tracked: int, what: str, *, verb: str = "refusing") -> None:
        """FogError above the limit (`verb`: a dry run says what the real run would do)."""
        limit = self.allowed(tracked)
        if deletions > limit:
            raise FogError(
                f"{verb} to {what} {deletions} deletions of {tracked} files (limit {limit}, --max-delete); "
                "if this is intended, run again with --max-delete 100%"
            )
