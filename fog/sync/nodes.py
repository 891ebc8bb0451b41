"""Untrusted nodes (`fog serve`) among the user's devices: their SyncConfig entries, the remote each
one is for every share, and the one place that opens a backend on a node URL (docs/FORMAT.md,
sections 10 and 17).

A node is a device entry with `trusted: false`, an `address` (HOST:PORT, or a `fog+ssh://` URL) and
its Box public key (`public`); its id is `device_id(public)`. It holds no secret of the user and
signs nothing: nothing that iterates devices to seal keys, check signatures or read logs takes it
as a trusted device. Every share of the user goes to every node that is not removed, as one more
remote named after the node (`node_remotes`), which every trusted device learns at its next pull.

Every connection to a node carries the user's device list (the *roster*), signed with the user
signing key, so the node learns a device added, revoked or rotated away at the next connection of
any trusted device; `update_rosters` hands it over at once after such a change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from fog.backends.base import Backend, open_backend, store_key
from fog.crypto import keys as K
from fog.errors import FogError, RemoteError, RevokedError, UsageError
from fog.format import noderoster as R
from fog.format.syncconfig import REMOTE_NAME, SyncConfig
from fog.repo.identity import Identity

NODE_SCHEMES = ("fog", "fog+ssh")
REVOKED = "device revoked"  # what a node says to a key its device list revokes (fog.format.noderoster)
_ADDRESS = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$")


def is_node_url(url: str) -> bool:
    """A URL that names an untrusted node (`fog://HOST:PORT`, `fog+ssh://[USER@]HOST[:PORT]/DIR`)."""
    return "://" in url and url.split("://", 1)[0].lower() in NODE_SCHEMES


def node_url(address: str) -> str:
    """The remote URL of a node address: HOST:PORT -> fog://HOST:PORT; a fog+ssh:// URL as it is."""
    return address if is_node_url(address) else f"fog://{address}"


def check_address(address: str) -> str:
    """HOST:PORT or a fog:// / fog+ssh:// URL; a UsageError otherwise."""
    if address.lower().startswith("fog+ssh://"):
        if len(address) <= len("fog+ssh://"):
            raise UsageError(f"{address!r}: a fog+ssh:// address names a host: fog+ssh://[USER@]HOST[:PORT]/DIR")
        from fog.backends.node import parse_url

        parse_url(address)  # (a host starting with '-' would be an ssh option)
        return address
    bare = address[len("fog://") :] if address.lower().startswith("fog://") else address
    m = _ADDRESS.match(bare)
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"{address!r} is not a node address: give HOST:PORT (or a fog+ssh:// URL)")
    return bare


# -- the SyncConfig side ---------------------------------------------------------------------


def is_node(entry: dict[str, Any]) -> bool:
    """A device entry of an untrusted node."""
    return entry.get("trusted", True) is False and isinstance(entry.get("address"), str)


def nodes(config: SyncConfig | None, *, removed: bool = True) -> dict[str, dict[str, Any]]:
    """The node entries of a SyncConfig (id -> entry); without `removed`, only the nodes in use."""
    if config is None:
        return {}
    return {
        did: e
        for did, e in config.devices.items()
        if is_node(e) and (removed or not (e.get("removed") or e.get("revoked")))
    }


def node_remotes(config: SyncConfig | None) -> dict[str, dict[str, Any]]:
    """Remote name -> remote entry (as in a share's `remotes`) of every node: the node's name, its URL,
    kind `fog`, and `removed` once the node is removed (so every device stops using it)."""
    out: dict[str, dict[str, Any]] = {}

    def order(kv: tuple[str, dict[str, Any]]) -> tuple[bool, int, str]:
        return (not (kv[1].get("removed") or kv[1].get("revoked")), int(kv[1].get("added") or 0), kv[0])

    # a name is the node's in use (a removed node's name may be given to a new one): it comes last and wins
    for did, e in sorted(nodes(config).items(), key=order):
        name = str(e.get("name", ""))
        if not REMOTE_NAME.match(name):
            continue
        gone = int(e.get("removed") or 0) or int(e.get("revoked") or 0)
        out[name] = {
            "url": node_url(str(e["address"])),
            "kind": "fog",
            "node": did,
            "added": int(e.get("added", 0)),
            "updated": int(e.get("updated", 0)),
            "removed": gone,
        }
    return out


def share_remote_entries(config: SyncConfig | None, share_id: str) -> dict[str, dict[str, Any]]:
    """Every remote of a share the SyncConfig gives: the share's own `remotes`, then one per node
    (a share remote of the same name keeps its name; fog device add-untrusted refuses such names)."""
    entry = config.shares.get(share_id, {}) if config is not None else {}
    listed = entry.get("remotes")
    out = dict(listed) if isinstance(listed, dict) else {}
    if entry and not entry.get("removed"):
        for name, r in node_remotes(config).items():
            out.setdefault(name, r)
    return out


def node_for_url(config: SyncConfig | None, url: str) -> tuple[str, dict[str, Any]] | None:
    """The node entry (id, entry) whose address is `url`; None when no node of the SyncConfig has it."""
    key = store_key(url)
    for did, e in nodes(config).items():
        if store_key(node_url(str(e["address"]))) == key:
            return did, e
    return None


def node_name(config: SyncConfig | None, url: str) -> str:
    found = node_for_url(config, url)
    return str(found[1].get("name")) if found else url


# -- the roster a node keeps --------------------------------------------------------------------


def roster_devices(config: SyncConfig) -> dict[str, dict[str, Any]]:
    """Every device entry as the roster lists it (docs/FORMAT.md, section 17): by Box public key, with
    its id, name, signing key, trust, and when it was revoked (a removed node counts as revoked then;
    a device a rotation revoked, at the rotation's time at least)."""
    rotation_time = int((config.rotation or {}).get("time_ns") or 0)
    out: dict[str, dict[str, Any]] = {}
    for did, e in sorted(config.devices.items()):
        public = e.get("public")
        if not isinstance(public, str) or len(public) != 64:
            continue
        revoked = int(e.get("revoked") or 0) or int(e.get("removed") or 0)
        if not revoked and did in config.revoked_by_rotation:
            revoked = rotation_time or 1
        sign = e.get("sign")
        out[public] = {
            "id": did,
            "name": str(e.get("name", did[:8]))[: R.MAX_NAME],
            "sign": sign if isinstance(sign, str) else "",
            "trusted": e.get("trusted", True) is True,
            "revoked": revoked,
        }
    return out


def roster_bytes(ident: Identity, config: SyncConfig, node_public: bytes) -> bytes:
    """The stored roster this device hands the node `node_public`: the SyncConfig's devices, the join key
    of the current master key, and a handover from every earlier user key (`user_old`) to the current one,
    signed with the user signing key."""
    olds = []
    for old in config.user_old:
        try:
            olds.append(K.user_signing_seed(bytes.fromhex(old["secret"])))
        except (KeyError, ValueError):
            continue
    join = [K.node_join_keypair(ident.master_key, node_public)[1].hex()]
    return R.build_roster(ident.user_sign_secret, node_public, roster_devices(config), join, olds)


# -- opening a node ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    """What a connection to a node needs (fog.backends.node.NodeAuth's fields)."""

    secret: bytes
    node_key: bytes | None
    space: str | None
    roster: bytes | None
    secret_for: Callable[[bytes], bytes] | None = None  # a join key: derived once the node's key is known


def _node_auth(auth: Auth) -> Any:
    from fog.backends.node import NodeAuth  # (only a node URL needs the node backend)

    return NodeAuth(
        secret=auth.secret, node_key=auth.node_key, space=auth.space, roster=auth.roster, secret_for=auth.secret_for
    )


def device_auth(ident: Identity, url: str, config: SyncConfig | None = None) -> Auth:
    """This device's connection to the node at `url`: its Box key, the node's key and space from the
    SyncConfig, and a roster of the SyncConfig's devices."""
    config = config if config is not None else ident.cached_config()
    found = node_for_url(config, url)
    if config is None or found is None:
        raise RemoteError(
            f"{url} is not one of this user's nodes (fog settings): add it with `fog device add-untrusted`, or clone "
            "from it with the master key"
        )
    _, entry = found
    public = bytes.fromhex(str(entry["public"]))
    space = entry.get("space") if isinstance(entry.get("space"), str) else None
    return Auth(ident.device_secret, public, space, roster_bytes(ident, config, public))


def backend_options(
    ident: Identity | None, url: str, options: Mapping[str, Any] | None = None, *, config: SyncConfig | None = None
) -> Mapping[str, Any] | None:
    """`options` for open_backend, with `node_auth` when `url` names a node (every other URL as it is)."""
    if not is_node_url(url) or ident is None or (options and "node_auth" in options):
        return options
    return {**(options or {}), "node_auth": _node_auth(device_auth(ident, url, config))}


def open_remote(
    url: str,
    ident: Identity | None,
    *,
    create: bool = False,
    options: Mapping[str, Any] | None = None,
    config: SyncConfig | None = None,
) -> Backend:
    """open_backend, authenticated as this device when `url` names a node. Every command that may
    open a remote of the user's shares opens it here.

    A node whose space another device moved to a new user key (a key rotation this device has not
    followed yet) ignores the stale roster this device carries and admits it by the list it holds (so
    the device can read the rotation record there and follow it). A node older than that rule, or a
    hello that names no space, refuses it instead ("roster not signed by this user's key"): the
    connection is then made again without it. A device that list revokes is told so (exit 6).
    """
    opts = backend_options(ident, url, options, config=config)
    try:
        return open_backend(url, create=create, options=opts)  # type: ignore[arg-type]
    except RemoteError as exc:
        auth = (opts or {}).get("node_auth")
        if auth is None:
            raise
        if str(exc).endswith(R.NOT_THIS_USER) and auth.roster is not None:
            try:
                return open_backend(url, create=create, options={**opts, "node_auth": replace(auth, roster=None)})  # type: ignore[arg-type]
            except RemoteError as again:
                exc = again
        if str(exc).endswith(REVOKED):
            name = node_name(config if config is not None else ident.cached_config() if ident else None, url)
            raise RevokedError(
                f"node {name} refuses this device: it was revoked by another device of this user; its local "
                "files are untouched"
            ) from None
        raise exc from None


def open_with(url: str, auth: Auth, *, create: bool = False) -> Backend:
    """A node backend with explicit credentials (add-untrusted, a clone through the join key), connected
    (fog.backends.node connects once on opening: the node's refusal surfaces here)."""
    return open_backend(url, create=create, options={"node_auth": _node_auth(auth)})  # type: ignore[dict-item]


@dataclass
class RosterUpdate:
    updated: list[str]
    failed: dict[str, str]


def update_rosters(ident: Identity, config: SyncConfig | None = None) -> RosterUpdate:
    """Hand every node in use the current device list (best effort: a node not reached now gets it
    with the next connection of any trusted device, whose hello carries it)."""
    config = config if config is not None else ident.cached_config()
    out = RosterUpdate([], {})
    for _, e in sorted(nodes(config, removed=False).items(), key=lambda kv: str(kv[1].get("name"))):
        name, url = str(e.get("name")), node_url(str(e["address"]))
        try:  # (opening connects: the hello carries the roster)
            open_remote(url, ident, config=config).close()
            out.updated.append(name)
        except FogError as exc:  # (unreachable, refused: the next connection of any device carries it)
            out.failed[name] = str(exc)
    return out


def check_name(config: SyncConfig, name: str, public: bytes) -> None:
    """A node's name is its remote name in every share: free among devices and remotes."""
    if not REMOTE_NAME.match(name):
        raise UsageError(f"node name {name!r}: use letters, digits, '.', '_' and '-' (it names a remote)")
    did = K.device_id(public)
    mine = config.devices.get(did)
    if mine is not None:
        if mine.get("removed") or mine.get("revoked"):
            raise FogError(
                f"this node ({mine.get('name')}) was removed; a removed node stays removed: run `fog serve` "
                "with a new directory (a new node key) and add that"
            )
        raise FogError(f"this node is one of your devices already, as {mine.get('name')!r}")
    for e in config.devices.values():
        if e.get("name") == name and not e.get("removed"):
            raise FogError(f"a device named {name!r} exists already")
    for entry in config.shares.values():
        if name in (entry.get("remotes") or {}) and not (entry["remotes"][name] or {}).get("removed"):
            raise FogError(f"a remote named {name!r} exists already; choose another name for the node")
