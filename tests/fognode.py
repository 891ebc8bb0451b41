"""A real `fog serve` for tests: started as a subprocess on 127.0.0.1 with a free port, stopped after.

`fog_node` (a fixture) starts nodes; `User` is a user with one trusted device
that builds the roster and the NodeAuth a client connects with.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fog
from fog.backends.node import NodeAuth
from fog.crypto import keys as K
from fog.crypto import seal as S
from fog.format.noderoster import build_roster

REPO = Path(fog.__file__).resolve().parent.parent


def node_env() -> dict[str, str]:
    """The environment for a fog subprocess: this checkout's code first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def serve_argv(*args: str) -> list[str]:
    return ["env", f"PYTHONPATH={node_env()['PYTHONPATH']}", sys.executable, "-m", "fog", "serve", *args]


class NodeProcess:
    """One `fog serve DIR --listen 127.0.0.1:0` process; its log lines gathered from stderr."""

    def __init__(self, root: Path, args: tuple[str, ...], preexec_fn: Callable[[], None] | None = None) -> None:
        self.root, self.args, self.preexec_fn = root, args, preexec_fn
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.lines: list[str] = []
        self.stdout = b""

    def start(self, timeout: float = 15.0) -> NodeProcess:
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fog", "serve", str(self.root), "--listen", "127.0.0.1:0", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=node_env(),
            preexec_fn=self.preexec_fn,
        )
        ready = threading.Event()
        proc = self.proc

        def read() -> None:
            assert proc.stderr
            for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(timeout) or not self.port:
            self.stop()
            raise RuntimeError(f"fog serve did not start: {self.lines}")
        return self

    @property
    def public(self) -> bytes:
        return bytes.fromhex(json.loads((self.root / "node.json").read_text())["public"])

    @property
    def url(self) -> str:
        return f"fog://127.0.0.1:{self.port}"

    def log_since(self, mark: int) -> list[str]:
        return self.lines[mark:]

    def wait_for_log(self, pattern: str, since: int = 0, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[since:]:
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} in {self.lines[since:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.stdout = self.proc.stdout.read()
            self.proc.stdout.close()
        return self.proc.returncode


@dataclass
class User:
    """A user (signing seed, master key) with trusted devices, as a trusted device knows them."""

    seed: bytes = field(default_factory=lambda: S.random_bytes(32))
    master_key: bytes = field(default_factory=K.new_master_key)
    devices: dict[str, dict[str, object]] = field(default_factory=dict)  # Box public hex -> roster entry
    secrets: dict[str, bytes] = field(default_factory=dict)  # device name -> Box secret
    old_seeds: list[bytes] = field(default_factory=list)
    first_sign: bytes = b""  # the signing public that created the user's spaces (kept across rotations)

    def __post_init__(self) -> None:
        if not self.devices:
            self.add_device("laptop")
        if not self.first_sign:
            self.first_sign = self.sign_public

    @property
    def sign_public(self) -> bytes:
        return S.signing_public_of(self.seed)

    @property
    def space(self) -> str:
        """The user's space on a node: named by the first signing key, so it survives a rotation (handover)."""
        return K.node_space(self.first_sign)

    def rotate(self) -> None:
        """A key rotation as `fog device revoke` makes one: new user signing key (the old one kept for the
        handover) and new master key (so a new join key)."""
        self.old_seeds.append(self.seed)
        self.seed = S.random_bytes(32)
        self.master_key = K.new_master_key()

    def add_device(self, name: str, *, trusted: bool = True) -> bytes:
        secret, public = S.new_keypair()
        _, sign_public = S.new_signing_key()
        self.devices[public.hex()] = {
            "id": K.device_id(public, sign_public),
            "name": name,
            "sign": sign_public.hex(),
            "trusted": trusted,
            "revoked": 0,
        }
        self.secrets[name] = secret
        return secret

    def revoke(self, name: str) -> None:
        public = S.public_of(self.secrets[name]).hex()
        self.devices[public] = {**self.devices[public], "revoked": time.time_ns()}

    def join(self, node_public: bytes) -> tuple[bytes, bytes]:
        """The join key pair for one node."""
        return K.node_join_keypair(self.master_key, node_public)

    def roster(self, node_public: bytes) -> bytes:
        return build_roster(self.seed, node_public, self.devices, [self.join(node_public)[1].hex()], self.old_seeds)

    def auth(
        self, node_public: bytes | None, device: str = "laptop", *, roster: bool = True, space: bool = False
    ) -> NodeAuth:
        return NodeAuth(
            secret=self.secrets[device] if device != "join" else self.join(node_public)[0],  # type: ignore[arg-type]
            node_key=node_public,
            space=self.space if space else None,
            roster=self.roster(node_public) if roster and node_public else None,
        )


@pytest.fixture
def fog_node(tmp_path: Path) -> Iterator[Callable[..., NodeProcess]]:
    """Start `fog serve` processes (args: extra options); all are stopped after the test."""
    started: list[NodeProcess] = []

    def start(*args: str, root: Path | None = None, preexec_fn: Callable[[], None] | None = None) -> NodeProcess:
        node = NodeProcess(root or tmp_path / f"node{len(started)}", args, preexec_fn)
        started.append(node)
        return node.start()

    yield start
    for node in started:
        node.stop()
