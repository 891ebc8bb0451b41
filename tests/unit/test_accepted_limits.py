"""What a revocation accepts from a device: the limit by number, and the pin (docs/FORMAT.md, section 9, step 5)."""

from __future__ import annotations

import pytest

from fog.format.syncconfig import SyncConfig
from fog.sync.logs import accepted_limit, accepted_pin

SHARE = "ab" * 16
CHAIN = "cd" * 32


def _dev(**fields: object) -> dict[str, object]:
    return {"public": "01" * 32, "name": "desktop", "revoked": 5, **fields}


def test_a_revocation_recorded_without_a_pin_reads_by_number_as_before() -> None:
    old = _dev(revoked_logs={SHARE: {"origin": 3}})  # a revocation by an older fog
    assert accepted_limit(old, SHARE, "origin") == 3 and accepted_pin(old, SHARE, "origin") is None
    legacy = _dev(revoked_seq={SHARE: 2})
    assert accepted_limit(legacy, SHARE, "origin") == 2 and accepted_pin(legacy, SHARE, "origin") is None
    assert accepted_limit(_dev(), SHARE, "origin") == 0
    assert accepted_limit({"public": "01" * 32}, SHARE, "origin") is None  # not revoked


def test_a_pin_is_the_limit_and_never_raises_it() -> None:
    pinned = _dev(revoked_logs={SHARE: {"origin": 3}}, revoked_chains={SHARE: {"origin": {"seq": 3, "chain": CHAIN}}})
    assert accepted_limit(pinned, SHARE, "origin") == 3
    assert accepted_pin(pinned, SHARE, "origin") == (3, bytes.fromhex(CHAIN))
    assert accepted_pin(pinned, SHARE, "other") is None and accepted_limit(pinned, SHARE, "other") == 0
    lower = _dev(revoked_logs={SHARE: {"origin": 2}}, revoked_chains={SHARE: {"origin": {"seq": 3, "chain": CHAIN}}})
    assert accepted_pin(lower, SHARE, "origin") is None and accepted_limit(lower, SHARE, "origin") == 2
    below = _dev(revoked_logs={SHARE: {"origin": 4}}, revoked_chains={SHARE: {"origin": {"seq": 3, "chain": CHAIN}}})
    assert accepted_limit(below, SHARE, "origin") == 3
    bad = _dev(revoked_logs={SHARE: {"origin": 3}}, revoked_chains={SHARE: {"origin": {"seq": 3, "chain": "zz"}}})
    assert accepted_pin(bad, SHARE, "origin") is None


@pytest.mark.parametrize(
    "pins",
    [
        {SHARE: {"origin": 3}},
        {SHARE: {"origin": {"seq": 0, "chain": CHAIN}}},
        {SHARE: {"origin": {"seq": 3, "chain": CHAIN[:-2]}}},
        {SHARE: {"origin": {"seq": 3, "chain": CHAIN, "more": 1}}},
        [],
    ],
)
def test_a_syncconfig_with_a_malformed_pin_is_refused(pins: object) -> None:
    doc = SyncConfig({"public": "00" * 32, "secret": "00" * 32}, {"d" * 32: _dev(revoked_chains=pins)}).to_json()
    with pytest.raises(ValueError, match="revoked_chains"):
        SyncConfig.from_json(doc)
