"""SyncConfig encoding and merging (fog.format.syncconfig)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fog.format import syncconfig as SC
from fog.format.syncconfig import SyncConfig

USER = {"public": "aa" * 32, "secret": "bb" * 32}


def config(devices: dict[str, Any] | None = None, shares: dict[str, Any] | None = None, **kw: Any) -> SyncConfig:
    return SyncConfig(dict(USER), devices or {}, shares or {}, **kw)


def sample() -> SyncConfig:
    return config(
        {"d1": {"name": "laptop", "public": "01" * 32, "trusted": True, "revoked": 0, "added": 1, "updated": 1}},
        {"s1": {"name": "Docs", "data_key": "02" * 32, "mac_key": "03" * 32, "chunk_seed": 7, "updated": 1}},
        supersedes=("b", "a"),
    )


def test_round_trip_and_determinism() -> None:
    c = sample()
    data = c.to_bytes()
    assert data == c.to_bytes()  # gzip with mtime 0
    assert data[4:8] == b"\x00\x00\x00\x00"
    assert SyncConfig.from_bytes(data) == SyncConfig(c.user, c.devices, c.shares, ("a", "b"))
    body = gzip.decompress(data)
    doc = json.loads(body)
    assert body == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert set(doc) == {"format", "user", "devices", "shares", "supersedes"} and doc["format"] == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not gzip",
        gzip.compress(b"x" * 100)[:-5],
        gzip.compress(b"not json"),
        gzip.compress(b"[1, 2]"),
        gzip.compress(b'{"format": 2}'),
        gzip.compress(json.dumps({"format": 1, "user": {"public": "x"}, "devices": {}, "shares": {}}).encode()),
        gzip.compress(json.dumps({"format": 1, "user": USER, "shares": {}}).encode()),
        gzip.compress(json.dumps({"format": 1, "user": USER, "devices": [], "shares": {}}).encode()),
        gzip.compress(json.dumps({"format": 1, "user": USER, "devices": {"d": 5}, "shares": {}}).encode()),
    ],
    ids=[
        "empty",
        "not-gzip",
        "truncated",
        "not-json",
        "list",
        "format",
        "no-secret",
        "no-devices",
        "devices-list",
        "entry-int",
    ],
)
def test_malformed_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        SyncConfig.from_bytes(data)


def test_decompression_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SC, "MAX_PLAINTEXT", 1000)
    assert SyncConfig.from_bytes(sample().to_bytes()) is not None
    with pytest.raises(ValueError, match="too large"):
        SyncConfig.from_bytes(gzip.compress(b" " * 5000 + b"{}"))


def test_merge_refuses_a_different_user() -> None:
    with pytest.raises(ValueError, match="user"):
        sample().merge(SyncConfig({"public": "cc" * 32, "secret": "dd" * 32}))


def test_removal_survives_a_stale_newer_copy() -> None:
    removed = config(shares={"s": {"name": "Docs", "updated": 5, "removed": 5}})
    stale = config(shares={"s": {"name": "Documents", "updated": 9, "removed": 0}})
    for merged in (removed.merge(stale), stale.merge(removed)):
        assert merged.shares["s"] == {"name": "Documents", "updated": 9, "removed": 5}


def test_revocation_survives_a_stale_copy_and_keeps_the_lowest_limit() -> None:
    revoked = config({"d": {"name": "old", "updated": 5, "revoked": 5, "revoked_seq": {"s1": 3, "s2": 8}}})
    again = config({"d": {"name": "old", "updated": 6, "revoked": 6, "revoked_seq": {"s1": 4, "s3": 1}}})
    stale = config({"d": {"name": "renamed", "updated": 9, "revoked": 0}})
    merged = revoked.merge(stale).merge(again)
    assert merged.devices["d"] == {
        "name": "renamed",
        "updated": 9,
        "revoked": 6,
        "revoked_seq": {"s1": 3, "s2": 8, "s3": 1},
    }
    assert merged == stale.merge(again.merge(revoked))


def test_entries_after_a_revoked_device_keep_their_fields() -> None:
    """Regression: merging revoked_seq once clobbered the loop's own dictionaries."""
    a = config({"d1": {"updated": 1, "revoked": 5, "revoked_seq": {"s": 3}}, "d2": {"updated": 1, "name": "two"}})
    b = config({"d1": {"updated": 2, "revoked": 5, "revoked_seq": {"s": 4}}, "d2": {"updated": 2, "name": "TWO"}})
    assert a.merge(b).devices["d2"] == {"updated": 2, "name": "TWO"}


def test_equal_times_tie_break_ignores_tombstones() -> None:
    """Regression: ordering ties by the whole entry made merge non-associative,
    because raising a tombstone changed how the merged entry sorted."""
    x = config({"d": {"name": "a", "revoked": 9, "trusted": True, "updated": 1}})
    y = config({"d": {"name": "b", "revoked": 0, "trusted": True, "updated": 1}})
    w = config({"d": {"name": "b", "revoked": 5, "trusted": False, "updated": 1}})
    assert x.merge(y).merge(w) == x.merge(y.merge(w)) == w.merge(x).merge(y)
    assert x.merge(y).merge(w).devices["d"] == {"name": "b", "revoked": 9, "trusted": True, "updated": 1}


def test_entries_on_one_side_only_are_kept_and_supersedes_unite() -> None:
    a = config({"d1": {"updated": 1}}, {"s1": {"updated": 1}}, supersedes=("x",))
    b = config({"d2": {"updated": 2}}, {}, supersedes=("y", "x"))
    merged = a.merge(b)
    assert set(merged.devices) == {"d1", "d2"} and set(merged.shares) == {"s1"}
    assert merged.supersedes == ("x", "y")


# -- merge is a semilattice -----------------------------------------------------------------

small = st.integers(0, 3)  # few values, so equal `updated` ties are common
limits = st.dictionaries(st.sampled_from(["s1", "s2"]), small, max_size=2)


remote_maps = st.dictionaries(
    st.sampled_from(["origin", "usb"]),
    st.fixed_dictionaries({"url": st.sampled_from(["/a", "/b"]), "updated": small, "removed": small}),
    max_size=2,
)


policies = st.fixed_dictionaries(
    {"updated": small}, optional={"keep-last": small, "keep-daily": small, "max-old-bytes": small}
)


def full_entry(sticky: str) -> st.SearchStrategy[dict[str, Any]]:
    """Entries as fog writes them: every copy carries the same fields (a share's policy is optional:
    it is merged on its own, so a copy without one takes the other's)."""
    fields = {"name": st.sampled_from(["a", "b", "c"]), "updated": small, sticky: small, "trusted": st.booleans()}
    if sticky == "revoked":
        fields["revoked_seq"] = limits  # "trusted" sorts after the merged fields: a tie-break trap
        return st.fixed_dictionaries(fields)
    fields["remotes"] = remote_maps  # merged per remote name, like the tombstones
    return st.fixed_dictionaries(fields, optional={"policy": policies})


def partial_entry(sticky: str) -> st.SearchStrategy[dict[str, Any]]:
    """Entries from mixed writers: any subset of the fields."""
    optional = {"name": st.sampled_from(["a", "b"]), "updated": small, sticky: small, "trusted": st.booleans()}
    if sticky == "revoked":
        optional["revoked_seq"] = limits
    return st.fixed_dictionaries({}, optional=optional)


def configs(entry: Any) -> st.SearchStrategy[SyncConfig]:
    keys = st.sampled_from(["k1", "k2", "k3"])
    return st.builds(
        lambda d, s, sup: config(d, s, supersedes=tuple(sup)),
        st.dictionaries(keys, entry("revoked"), max_size=3),
        st.dictionaries(keys, entry("removed"), max_size=3),
        st.lists(st.sampled_from(["v1", "v2", "v3"]), max_size=2, unique=True).map(sorted),
    )


@settings(max_examples=120, deadline=None)
@given(configs(full_entry), configs(full_entry), configs(full_entry))
def test_merge_is_commutative_associative_idempotent(a: SyncConfig, b: SyncConfig, c: SyncConfig) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a.merge(b).merge(b) == a.merge(b)


@settings(max_examples=75, deadline=None)
@given(configs(partial_entry), configs(partial_entry))
def test_merge_of_mixed_entries_is_commutative_and_idempotent(a: SyncConfig, b: SyncConfig) -> None:
    # Entries with different field sets merge by overlay, which is commutative
    # and idempotent on each copy; re-merging an overlay with one of its inputs
    # is only stable for complete entries, which is all fog writes (a device or
    # share entry is always written whole, with `updated`).
    assert a.merge(b) == b.merge(a)
    assert a.merge(a) == a
    assert b.merge(b) == b


@settings(max_examples=75, deadline=None)
@given(configs(full_entry), configs(full_entry))
def test_tombstones_are_never_lowered(a: SyncConfig, b: SyncConfig) -> None:
    merged = a.merge(b)
    for side in (a, b):
        for key, entry in side.devices.items():
            assert merged.devices[key]["revoked"] >= entry["revoked"]
            for share, limit in entry["revoked_seq"].items():
                assert merged.devices[key]["revoked_seq"][share] <= limit
        for key, entry in side.shares.items():
            assert merged.shares[key]["removed"] >= entry["removed"]


def test_a_remote_added_while_another_device_renames_the_share_survives() -> None:
    base = sample()
    share = base.shares["s1"]
    added = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 5, "removed": 0}}}})
    renamed = config(shares={"s1": {**share, "name": "Papers", "updated": 9}})
    for merged in (added.merge(renamed), renamed.merge(added)):
        assert merged.shares["s1"]["name"] == "Papers"
        assert merged.shares["s1"]["remotes"]["usb"]["url"] == "/usb"


def test_a_policy_set_while_another_device_renames_the_share_survives() -> None:
    share = sample().shares["s1"]
    policy = {"keep-last": 3, "updated": 5}
    with_policy = config(shares={"s1": {**share, "policy": policy}})
    renamed = config(shares={"s1": {**share, "name": "Papers", "updated": 9}})
    for merged in (with_policy.merge(renamed), renamed.merge(with_policy)):
        assert merged.shares["s1"]["name"] == "Papers"
        assert merged.shares["s1"]["policy"] == policy


def test_the_newest_policy_wins_whole_and_equal_times_go_by_canonical_json() -> None:
    share = sample().shares["s1"]
    a = config(shares={"s1": {**share, "policy": {"keep-last": 3, "keep-daily": 7, "updated": 5}}})
    b = config(shares={"s1": {**share, "policy": {"keep-last": 1, "updated": 6}}})
    c = config(shares={"s1": {**share, "policy": {"keep-last": 2, "updated": 6}}})
    for merged in (a.merge(b), b.merge(a)):
        assert merged.shares["s1"]["policy"] == {"keep-last": 1, "updated": 6}  # not a mix of the two
    assert b.merge(c).shares["s1"]["policy"] == c.merge(b).shares["s1"]["policy"] == {"keep-last": 2, "updated": 6}
    assert a.merge(b).merge(c) == a.merge(b.merge(c)) == c.merge(a).merge(b)


def test_a_policy_does_not_decide_which_share_entry_wins_a_tie() -> None:
    share = {**sample().shares["s1"], "updated": 4}
    x = config(shares={"s1": {**share, "name": "a", "policy": {"keep-last": 9, "updated": 1}}})
    y = config(shares={"s1": {**share, "name": "b"}})
    w = config(shares={"s1": {**share, "name": "b", "policy": {"keep-last": 1, "updated": 2}}})
    assert x.merge(y).merge(w) == x.merge(y.merge(w)) == w.merge(x).merge(y)
    assert x.merge(y).merge(w).shares["s1"]["name"] == "b"


def _with_policy(policy: Any) -> bytes:
    doc = sample().to_json()
    doc["shares"]["s1"]["policy"] = policy
    return gzip.compress(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "policy",
    [[], {"keep-last": -1}, {"keep-daily": "7"}, {"overrides": [{"pattern": "!x", "keep-last": 1}]}, {"updated": -1}],
)
def test_a_malformed_policy_is_a_value_error(policy: Any) -> None:
    with pytest.raises(ValueError, match="policy"):
        SyncConfig.from_bytes(_with_policy(policy))


def test_a_policy_with_rules_of_a_newer_fog_is_read_and_kept() -> None:
    policy = {"keep-last": 3, "keep-tagged": 2, "updated": 7}
    assert SyncConfig.from_bytes(_with_policy(policy)).shares["s1"]["policy"] == policy


def test_a_remote_removal_and_a_later_re_add_go_by_time() -> None:
    share = sample().shares["s1"]
    removed = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 5, "removed": 5}}}})
    again = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb2", "updated": 7, "removed": 0}}}})
    stale = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 3, "removed": 0}}}})
    assert removed.merge(stale).shares["s1"]["remotes"]["usb"]["removed"] == 5
    assert removed.merge(again).shares["s1"]["remotes"]["usb"] == {"url": "/usb2", "updated": 7, "removed": 0}


def _share(epochs: list[str], alt: dict[str, list[str]] | None = None, updated: int = 1) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "S", "data_key": "02" * 32, "mac_key": "03" * 32, "chunk_seed": 7}
    entry.update(updated=updated, epochs=epochs)
    if alt:
        entry["epochs_alt"] = alt
    return entry


def test_two_keys_for_one_epoch_are_both_kept() -> None:
    """Two devices of the owner started epoch 1 at once: the merge kept one key and dropped the other (and with
    it everything sealed with it). The longer-then-larger list still gives each epoch's key for new data; every
    other key seen for an epoch stays in `epochs_alt`, in any order of merging."""
    ka, kb, kc, k2 = "a1" * 32, "b1" * 32, "c1" * 32, "d2" * 32
    x = config(shares={"s1": _share([ka], updated=5)})
    y = config(shares={"s1": _share([kb], updated=3)})
    z = config(shares={"s1": _share([kc, k2], updated=4)})
    xy = x.merge(y)
    assert xy.shares["s1"]["epochs"] == [kb] and xy.shares["s1"]["epochs_alt"] == {"1": [ka]}
    assert y.merge(x) == xy and xy.merge(xy) == xy
    every = [x.merge(y).merge(z), x.merge(y.merge(z)), z.merge(x).merge(y), y.merge(z).merge(x)]
    assert all(e == every[0] for e in every)
    assert every[0].shares["s1"]["epochs"] == [kc, k2] and every[0].shares["s1"]["epochs_alt"] == {"1": [ka, kb]}
    # round trip, and the keys readers try
    from fog.crypto import keys as K

    entry = SyncConfig.from_bytes(every[0].to_bytes()).shares["s1"]
    keys = K.ShareKeys.from_json("00" * 16, entry)
    assert keys.epoch == 2 and keys.data_key == bytes.fromhex(k2)
    assert keys.data_keys_of(1) == tuple(bytes.fromhex(k) for k in (kc, ka, kb))
    assert [e for e, _ in keys.epoch_keys] == [2, 1, 1, 1, 0]
    assert keys.to_json()["epochs_alt"] == {"1": [ka, kb]}
    assert K.ShareKeys.from_json("00" * 16, {**entry, **keys.rotated().to_json()}).alternates == keys.alternates


@pytest.mark.parametrize("alt", [[], {"0": ["a1" * 32]}, {"x": ["a1" * 32]}, {"1": "a1" * 32}, {"1": ["zz"]}])
def test_a_malformed_epochs_alt_is_a_value_error(alt: Any) -> None:
    doc = config(shares={"s1": _share(["a1" * 32])}).to_json()
    doc["shares"]["s1"]["epochs_alt"] = alt
    with pytest.raises(ValueError, match="epochs_alt"):
        SyncConfig.from_json(doc)


def test_a_remote_entry_instance_is_read_kept_and_must_be_a_string() -> None:
    """Section 10: `instance` (remote add) names one adding of a remote; entries without one stay readable."""
    share = sample().shares["s1"]
    for entry in ({"url": "/usb", "updated": 5, "removed": 0}, {"url": "/usb", "updated": 5, "instance": "ab" * 16}):
        c = config(shares={"s1": {**share, "remotes": {"usb": entry}}})
        assert SyncConfig.from_bytes(c.to_bytes()).shares["s1"]["remotes"]["usb"] == entry
    again = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 7, "instance": "cd" * 16}}}})
    old = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 5, "instance": "ab" * 16}}}})
    assert old.merge(again).shares["s1"]["remotes"]["usb"]["instance"] == "cd" * 16
    bad = config(shares={"s1": {**share, "remotes": {"usb": {"url": "/usb", "updated": 5, "instance": 7}}}})
    with pytest.raises(ValueError, match="instance must be a string"):
        SyncConfig.from_bytes(bad.to_bytes())
