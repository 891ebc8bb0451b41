"""What fog says of an LMDB failure (fog.errors.database_error)."""

from __future__ import annotations

import lmdb

from fog.errors import database_error


def test_a_commit_that_fails_on_a_full_disk_says_so() -> None:
    """A full disk under the share made LMDB's commit fail with EIO, and fog said only 'the share database
    failed: ... Input/output error' (review 5, longrun 9)."""
    err = database_error(lmdb.Error("mdb_txn_commit: Input/output error"))
    assert err is not None and "disk full?" in str(err) and "nothing of this run was recorded" in str(err)
    other = database_error(lmdb.MapFullError("mdb_put: MDB_MAP_FULL"))
    assert other is not None and "disk full" not in str(other)
