"""Opening an SSH connection the way `ssh` would, for the SFTP backend.

The user's own setup decides where and how to connect: `~/.ssh/config`
(HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
GlobalKnownHostsFile, ConnectTimeout, ProxyCommand), keys from the agent and
the default `~/.ssh/id_*` files, and host keys from known_hosts. An unknown or
changed host key is refused, never added: fog has no prompt to ask about it
(StrictHostKeyChecking is ignored for that reason). ProxyJump is refused with a
hint to use ProxyCommand; other options (HostKeyAlias, CertificateFile, ...) are
not used.
Every failure becomes a one-line `RemoteError`, transient only when trying
again later may help (refused, timed out or dropped connections).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import logging
import os
import shlex
import socket
from dataclasses import dataclass, field
from typing import Any

import paramiko

from fog.backends.base import seconds
from fog.errors import RemoteError

# paramiko logs transport failures (with tracebacks) from its own threads; fog
# reports them as RemoteError instead, so keep Python's last-resort handler quiet.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_DEFAULT_USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
_DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


@dataclass(frozen=True)
class SSHTarget:
    """Where and how to connect, after `~/.ssh/config` has been applied."""

    alias: str  # the host as written in the URL
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    known_hosts: tuple[str, ...] = field(default_factory=tuple)  # user files first, then global ones
    connect_timeout: float = 15.0
    proxy_command: str | None = None

    @property
    def known_hosts_name(self) -> str:
        """The name a known_hosts line uses for this server (`[host]:port` off port 22)."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def user_known_hosts(self) -> str:
        """The known_hosts file a user should add this server to, as they would write it."""
        for path in self.known_hosts:
            if not path.startswith("/etc/"):
                return _tilde(path)
        return "~/.ssh/known_hosts"


def _config_for(host: str, *, url: str) -> dict:
    """The `~/.ssh/config` options for `host` (none without the file); RemoteError if it cannot be read."""
    config_path = os.path.expanduser("~/.ssh/config")
    if not os.path.exists(config_path):
        return {}
    try:
        return dict(paramiko.SSHConfig.from_path(config_path).lookup(host))
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise RemoteError(f"remote {url}: cannot use {_tilde(config_path)}: {e}") from e


def endpoint(host: str, user: str | None, port: int | None) -> tuple[str, int, str, str | None]:
    """(server, port, login user, proxy command) a URL's host, user and port connect to, as
    `resolve_target` resolves them: what tells two spellings of one store apart from two stores
    (`fog.backends.base.store_key`). A config that cannot be used counts as none (connecting says why)."""
    try:
        opts = _config_for(host, url=host)
        config_port = int(opts.get("port", 22))
    except (RemoteError, ValueError):
        opts, config_port = {}, 22
    proxy = opts.get("proxycommand")
    return (
        str(opts.get("hostname", host)).lower(),
        port if port is not None else config_port,
        user or opts.get("user") or getpass.getuser(),
        proxy if proxy and proxy.lower() != "none" else None,
    )


def resolve_target(host: str, user: str | None, port: int | None, *, url: str) -> SSHTarget:
    """Apply `~/.ssh/config` to a URL's host, user and port (the URL wins, as with ssh)."""
    opts = _config_for(host, url=url)
    if "proxyjump" in opts:
        raise RemoteError(
            f"remote {url}: ProxyJump in ~/.ssh/config is not supported; "
            "use the equivalent `ProxyCommand ssh -W %h:%p JUMPHOST` for this host"
        )
    try:
        config_port = int(opts.get("port", 22))
        connect_timeout = seconds(opts.get("connecttimeout", 15), "ConnectTimeout")
    except ValueError as e:
        raise RemoteError(f"remote {url}: bad value in ~/.ssh/config for host {host}: {e}") from e
    user_files = _split_files(opts.get("userknownhostsfile"), _DEFAULT_USER_KNOWN_HOSTS)
    global_files = _split_files(opts.get("globalknownhostsfile"), _DEFAULT_GLOBAL_KNOWN_HOSTS)
    return SSHTarget(
        alias=host,
        hostname=opts.get("hostname", host),
        port=port if port is not None else config_port,
        user=user or opts.get("user") or getpass.getuser(),
        identity_files=tuple(os.path.expanduser(p) for p in opts.get("identityfile", [])),
        identities_only=opts.get("identitiesonly", "no").lower() == "yes",
        known_hosts=user_files + global_files,
        connect_timeout=connect_timeout,
        proxy_command=opts.get("proxycommand") if opts.get("proxycommand", "none").lower() != "none" else None,
    )


def connect(target: SSHTarget, *, url: str) -> paramiko.SSHClient:
    """Open an authenticated SSH connection to `target`, verifying its host key."""
    client = paramiko.SSHClient()
    for path in reversed(target.known_hosts):  # later files win where they overlap: the user's own
        if os.path.isfile(path):
            try:
                client.load_system_host_keys(path)
            except (OSError, paramiko.SSHException, ValueError) as e:
                raise RemoteError(f"remote {url}: cannot read known_hosts file {_tilde(path)}: {e}") from e
    client.set_missing_host_key_policy(_RefuseUnknownHostKey())
    keys = [p for p in target.identity_files if os.path.isfile(p)]
    try:
        client.connect(
            target.hostname,
            port=target.port,
            username=target.user,
            key_filename=keys or None,
            allow_agent=not target.identities_only,
            look_for_keys=not target.identities_only,
            timeout=target.connect_timeout,
            banner_timeout=target.connect_timeout,
            auth_timeout=target.connect_timeout,
            sock=paramiko.ProxyCommand(target.proxy_command) if target.proxy_command else None,
            transport_factory=_transport,
        )
    except BaseException as e:
        client.close()
        raise _connect_error(e, target, url) from e
    transport = client.get_transport()
    assert transport is not None
    transport.set_keepalive(15)
    return client


def _transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    """A Transport preferring AES-GCM when paramiko has it (paramiko >= 3.5).

    One AEAD pass per packet instead of AES-CTR plus HMAC: about 40% more
    bulk throughput in paramiko. A server without GCM still gets CTR.
    """
    transport = paramiko.Transport(sock, **kwargs)
    options = transport.get_security_options()
    gcm = [c for c in options.ciphers if c.endswith("-gcm@openssh.com")]
    options.ciphers = tuple(gcm + [c for c in options.ciphers if c not in gcm])
    return transport


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, key: paramiko.PKey) -> None:
        super().__init__("unknown host key")
        self.key = key


class _RefuseUnknownHostKey(paramiko.RejectPolicy):
    """RejectPolicy that keeps the offered key, so the message can show its fingerprint."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise _UnknownHostKey(key)


def _connect_error(e: BaseException, t: SSHTarget, url: str) -> BaseException:
    """The one-line error for a failed connection attempt (or `e` itself if unexpected)."""
    where = f"remote {url}"
    if isinstance(e, _UnknownHostKey):
        port = f"-p {t.port} " if t.port != 22 else ""
        return RemoteError(
            f"{where}: the SSH host key of {t.known_hosts_name} is unknown ({fingerprint(e.key)}); "
            f"fog never accepts unknown host keys. Verify that fingerprint with the server's owner, then add it: "
            f"ssh-keyscan {port}{t.hostname} >> {t.user_known_hosts}"
        )
    if isinstance(e, paramiko.BadHostKeyException):
        return RemoteError(
            f"{where}: the SSH host key of {t.known_hosts_name} has CHANGED: the server offers "
            f"{fingerprint(e.key)} but known_hosts has {fingerprint(e.expected_key)}. Refusing to connect: "
            f"this may be an attack. If the server was reinstalled and you verified the new fingerprint, "
            f"run ssh-keygen -R '{t.known_hosts_name}' and add the new key"
        )
    tried = "the ssh agent and ~/.ssh keys" if not t.identities_only else "IdentityFile keys"
    if isinstance(e, paramiko.AuthenticationException):
        return RemoteError(
            f"{where}: SSH authentication as {t.user}@{t.hostname} failed ({tried} were tried); "
            f"check that your public key is in the server's authorized_keys"
        )
    if isinstance(e, paramiko.SSHException) and "No authentication methods available" in str(e):
        return RemoteError(
            f"{where}: SSH authentication as {t.user}@{t.hostname} impossible: no key found "
            f"({tried} were looked for); create one with ssh-keygen or start ssh-agent"
        )
    if isinstance(e, socket.gaierror):
        unknown = e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        return RemoteError(f"{where}: cannot resolve host {t.hostname}: {e.strerror or e}", transient=not unknown)
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError | ConnectionRefusedError):
        return RemoteError(f"{where}: connection to {t.hostname} port {t.port} refused", transient=True)
    if isinstance(e, TimeoutError):
        return RemoteError(f"{where}: connection to {t.hostname} port {t.port} timed out", transient=True)
    if isinstance(e, paramiko.ProxyCommandFailure):
        return RemoteError(f"{where}: ProxyCommand failed: {e}", transient=True)
    if isinstance(e, paramiko.SSHException) and (
        "No existing session" in str(e) or "Error reading SSH protocol banner" in str(e)
    ):  # (paramiko's words for a server that accepted the connection and never spoke SSH)
        return RemoteError(
            f"{where}: {t.hostname} port {t.port} did not answer the SSH handshake within "
            f"{t.connect_timeout:g} s (is an SSH server listening there? for a slow one: ConnectTimeout "
            "in ~/.ssh/config)",
            transient=True,
        )
    if isinstance(e, OSError | EOFError | paramiko.SSHException):
        detail = getattr(e, "strerror", None) or str(e) or type(e).__name__
        return RemoteError(f"{where}: SSH connection to {t.hostname} port {t.port} failed: {detail}", transient=True)
    if isinstance(e, Exception):  # e.g. a key file paramiko cannot parse
        return RemoteError(f"{where}: SSH connection to {t.hostname} failed: {type(e).__name__}: {e}")
    return e  # KeyboardInterrupt and friends pass through


def fingerprint(key: paramiko.PKey) -> str:
    """A key's type and SHA256 fingerprint, written as `ssh-keygen -l` writes it."""
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
    return f"{key.get_name()} SHA256:{digest}"


def _split_files(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    files = shlex.split(value) if value else list(default)
    return tuple(os.path.expanduser(f) for f in files if f.lower() != "none")


def _tilde(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home) :] if home not in ("", "/") and path.startswith(home + "/") else path
