"""Untrusted nodes in the SyncConfig (docs/FORMAT.md, sections 10 and 17): entries, merge, remotes, roster."""

from __future__ import annotations

from pathlib import Path

import pytest

from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.format import noderoster as R
from fog.format.syncconfig import SyncConfig
from fog.repo.identity import Identity
from fog.sync import nodes

SID = "ab" * 16


def _node(name: str, address: str, *, added: int = 1, **extra: object) -> tuple[str, dict]:
    _, public = S.new_keypair()
    entry = {"name": name, "public": public.hex(), "trusted": False, "address": address, "revoked": 0}
    entry.update({"removed": 0, "added": added, "updated": added, **extra})
    return K.device_id(public), entry


def _config(ident: Identity, *entries: tuple[str, dict], remotes: dict | None = None) -> SyncConfig:
    share = {"name": "s", "data_key": "00" * 32, "mac_key": "11" * 32, "chunk_seed": 1, "updated": 1}
    if remotes is not None:
        share["remotes"] = remotes
    return SyncConfig(
        ident.user_json(),
        {ident.device_id: ident.device_entry(), **dict(entries)},
        {SID: share},
    )


@pytest.fixture
def ident(tmp_path: Path) -> Identity:
    return Identity.create(tmp_path / "home", name="laptop")


def test_node_entries_round_trip_and_malformed_fields_are_refused(ident: Identity) -> None:
    did, entry = _node("vps", "127.0.0.1:7463", space="cd" * 16)
    config = _config(ident, (did, entry))
    assert SyncConfig.from_bytes(config.to_bytes()) == config
    for bad in ({"address": 7}, {"address": ""}, {"space": "xyz"}, {"trusted": "no"}):
        doc = config.to_json()
        doc["devices"][did] = {**entry, **bad}
        with pytest.raises(ValueError):
            SyncConfig.from_json(doc)
    doc = config.to_json()
    doc["devices"][did] = {**entry, "future": {"x": 1}}  # unknown fields are kept
    assert SyncConfig.from_json(doc).devices[did]["future"] == {"x": 1}


def test_removed_is_a_sticky_tombstone_and_an_address_change_merges(ident: Identity) -> None:
    did, entry = _node("vps", "127.0.0.1:7463")
    base = _config(ident, (did, entry))
    removed = base.with_(devices={**base.devices, did: {**entry, "removed": 5, "updated": 5}})
    moved = base.with_(devices={**base.devices, did: {**entry, "address": "10.0.0.1:9", "updated": 9}})
    for merged in (removed.merge(moved), moved.merge(removed)):
        assert merged.devices[did]["removed"] == 5 and merged.devices[did]["address"] == "10.0.0.1:9"
    assert nodes.node_remotes(removed.merge(moved))["vps"]["removed"] == 5


def test_a_node_is_a_remote_of_every_share(ident: Identity) -> None:
    did, entry = _node("vps", "127.0.0.1:7463")
    ssh = _node("nas", "fog+ssh://me@nas/srv/fog", added=2)
    config = _config(ident, (did, entry), ssh, remotes={"origin": {"url": "/mnt/usb", "kind": "file"}})
    listed = nodes.share_remote_entries(config, SID)
    assert listed["origin"]["url"] == "/mnt/usb"
    assert listed["vps"] == {"url": "fog://127.0.0.1:7463", "kind": "fog", "node": did, "added": 1, "updated": 1,
                             "removed": 0}  # fmt: skip
    assert listed["nas"]["url"] == "fog+ssh://me@nas/srv/fog"
    assert nodes.node_for_url(config, "fog://127.0.0.1:7463") == (did, entry)
    assert nodes.node_for_url(config, "fog://127.0.0.1:1") is None
    assert nodes.share_remote_entries(config, "cd" * 16) == {}  # (no such share)


def test_a_removed_nodes_name_goes_to_the_new_node(ident: Identity) -> None:
    old = _node("vps", "127.0.0.1:1", added=1, removed=3)
    new = _node("vps", "127.0.0.1:2", added=4)
    config = _config(ident, old, new)
    assert nodes.node_remotes(config)["vps"]["url"] == "fog://127.0.0.1:2"
    assert list(nodes.nodes(config, removed=False)) == [new[0]]


def test_the_roster_lists_devices_nodes_untrusted_and_revocations(ident: Identity) -> None:
    did, entry = _node("vps", "127.0.0.1:7463")
    gone = _node("old", "127.0.0.1:9", removed=7)
    _, other_pub = S.new_keypair()
    other = (K.device_id(other_pub), {"name": "desk", "public": other_pub.hex(), "trusted": True, "revoked": 9})
    config = _config(ident, (did, entry), gone, other)
    stored = nodes.roster_bytes(ident, config, bytes.fromhex(entry["public"]))
    roster = R.decode_roster(stored)
    assert roster.signer == ident.user_sign_public.hex() and roster.node == entry["public"]
    assert roster.join == (K.node_join_keypair(ident.master_key, bytes.fromhex(roster.node))[1].hex(),)
    me = roster.devices[ident.device_public.hex()]
    assert (me.id, me.trusted, me.revoked, me.sign) == (ident.device_id, True, 0, ident.sign_public.hex())
    assert roster.devices[entry["public"]].trusted is False and roster.devices[entry["public"]].sign == ""
    assert roster.devices[gone[1]["public"]].revoked == 7
    assert roster.devices[other_pub.hex()].revoked == 9 and roster.handover == ()


def test_the_roster_hands_over_from_every_earlier_user_key(ident: Identity) -> None:
    did, entry = _node("vps", "127.0.0.1:7463")
    old_secret, old_public = S.new_keypair()
    config = _config(ident, (did, entry)).with_(user_old=({"public": old_public.hex(), "secret": old_secret.hex()},))
    roster = R.decode_roster(nodes.roster_bytes(ident, config, bytes.fromhex(entry["public"])))
    old_sign = S.signing_public_of(K.user_signing_seed(old_secret)).hex()
    assert roster.handed_over_from(old_sign)


def test_addresses_and_urls() -> None:
    assert nodes.check_address("vps.example.org:7463") == "vps.example.org:7463"
    assert nodes.check_address("fog://[::1]:7463") == "[::1]:7463"
    assert nodes.check_address("fog+ssh://me@nas/srv/fog") == "fog+ssh://me@nas/srv/fog"
    for bad in ("nowhere", "host:0", "host:99999", "a b:1", "fog+ssh://"):
        with pytest.raises(Exception, match="address|host"):
            nodes.check_address(bad)
    assert nodes.node_url("h:1") == "fog://h:1" and nodes.is_node_url("fog+ssh://x/y")
    assert not nodes.is_node_url("/mnt/fog") and not nodes.is_node_url("s3://b/p")


def test_an_ssh_destination_is_never_an_ssh_option() -> None:
    """`fog+ssh://-oProxyCommand=CMD/x` ran CMD on this machine (ssh took the host for an option), as node
    address it spread to every device (review 5, serve 4). Refused (and ssh gets `--` before the host)."""
    from fog.backends.node import parse_url
    from fog.errors import UsageError

    for bad in ("fog+ssh://-oProxyCommand=touch${IFS}PWNED/x", "fog+ssh://-oX@host/x", "fog+ssh://a b/x"):
        with pytest.raises(UsageError, match="cannot start with '-'"):
            parse_url(bad)
        with pytest.raises(UsageError):
            nodes.check_address(bad)
    assert parse_url("fog+ssh://me@nas:2222/srv/fog")[1:4] == ("me", "nas", 2222)


def test_a_node_never_counts_as_a_trusted_device(ident: Identity, tmp_path: Path) -> None:
    """Rotation sealing, member statements and rotation-record checks take trusted devices only."""
    from fog.sync import members

    did, entry = _node("vps", "127.0.0.1:7463")
    config = _config(ident, (did, entry))
    assert did not in members.my_devices(config)
    assert nodes.is_node(entry) and not nodes.is_node(ident.device_entry())
