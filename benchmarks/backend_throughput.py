"""Put throughput of fog backends: many small objects and a few large ones, from a thread pool.

Usage:
    python benchmarks/backend_throughput.py [URL ...] [--threads 4] [--small 2000] [--large 64]
    python benchmarks/backend_throughput.py --sshd [--threads 4]
    python benchmarks/backend_throughput.py s3://BUCKET --s3-endpoint http://127.0.0.1:8333 [--threads 8]

Each URL names a directory (a path, file://, sftp:// or s3://) under which a
fresh `bench-<random>` remote is created, filled, and emptied again. With no
URL, a temporary local directory is measured. `--sshd` also starts a throwaway
OpenSSH server on 127.0.0.1 (tests/sshd.py; needs /usr/sbin/sshd, run as the
user it should accept) and measures SFTP to it next to the local directory.
`--s3-endpoint` sends s3:// URLs to an S3-compatible service (path-style
addressing; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or
AWS_PROFILE), e.g. a SeaweedFS started as tests/s3server.py starts it.

For each remote it prints objects/s and MB/s for `--small` puts of 4 KiB and
`--large` puts of 1 MiB (random bytes, so nothing compresses), the time of the
`sync()` that follows each batch, and the time to list the result. Backends are
opened with `open_backend`, as fog itself does (retry wrapper included).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fog.backends.base import Backend, open_backend

KIB = 1024


def _put_all(backend: Backend, objects: list[tuple[str, bytes]], threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda item: backend.put(*item), objects):
            pass
    return time.perf_counter() - start


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(url: str, *, threads: int, small: int, large: int, options: dict[str, str] | None = None) -> None:
    sub = f"bench-{secrets.token_hex(4)}"
    remote_url = f"{url.rstrip('/')}/{sub}"
    backend = open_backend(remote_url, create=True, options=options)
    print(f"{url}  ({threads} threads)")
    try:
        for label, count, size in (("4 KiB", small, 4 * KIB), ("1 MiB", large, 1024 * KIB)):
            objects = [(f"data/{i % 256:02x}/{label[0]}{i:06d}", os.urandom(size)) for i in range(count)]
            seconds = _put_all(backend, objects, threads)
            sync_s = _timed(backend.sync)
            listed = 0

            def count_listed() -> None:
                nonlocal listed
                listed = sum(1 for _ in backend.list("data/"))

            list_s = _timed(count_listed)
            mb = count * size / 1e6
            print(
                f"  put {count:>5} x {label}: {seconds:7.2f} s  {count / seconds:8.0f} objects/s  "
                f"{mb / seconds:7.1f} MB/s   sync {sync_s * 1000:6.1f} ms   list {listed} in {list_s:.2f} s"
            )
            with ThreadPoolExecutor(threads) as pool:
                for _ in pool.map(lambda item: backend.delete(item[0]), objects):
                    pass
    finally:
        backend.close()


def _start_sshd(workdir: Path) -> tuple[object, str]:
    """Start tests/sshd.py's server and point HOME at a ~/.ssh that trusts it; return (server, base URL)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from sshd import SSHServer, make_ssh_home

    server = SSHServer(workdir / "sshd")
    server.start()
    os.environ["HOME"] = str(workdir / "home")
    os.environ.pop("SSH_AUTH_SOCK", None)
    make_ssh_home(workdir / "home", server)
    return server, server.url(server.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("urls", nargs="*", help="remote directories to measure (default: a temporary local one)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--small", type=int, default=2000, help="number of 4 KiB objects")
    parser.add_argument("--large", type=int, default=64, help="number of 1 MiB objects")
    parser.add_argument("--sshd", action="store_true", help="also measure SFTP to a throwaway local sshd")
    parser.add_argument("--s3-endpoint", help="endpoint URL for s3:// remotes (S3-compatible service, path-style)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fog-bench-") as tmp:
        urls = list(args.urls)
        server = None
        if not urls:
            (Path(tmp) / "local").mkdir()
            urls.append(str(Path(tmp) / "local"))
        if args.sshd:
            server, url = _start_sshd(Path(tmp))
            urls.append(url)
        try:
            for url in urls:
                s3 = args.s3_endpoint and url.startswith("s3://")
                options = {"endpoint": args.s3_endpoint, "path_style": "1"} if s3 else None
                bench(url, threads=args.threads, small=args.small, large=args.large, options=options)
        finally:
            if server is not None:
                server.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
