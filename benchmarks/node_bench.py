"""Push and clone of the standard corpus through an untrusted node (`fog serve`), against a
local-directory remote and SFTP, all on loopback (issue 18).

Usage:
    python benchmarks/node_bench.py [--scale 1.0] [--rounds 1] [--kinds local,sftp,node]

For each kind, a fresh device (its own FOG_HOME) makes a share of the corpus
(benchmarks/corpus.py) on that remote and pushes it (timed), then a second
fresh device clones it with the master key (timed: a full restore over that
remote). The node is a real `fog serve` process on 127.0.0.1, added with
`fog device add-untrusted`; its share is created on a local seed remote that
the device then removes (`fog remote remove`), so the timed push goes to
the node alone. SFTP uses a throwaway OpenSSH server (tests/sshd.py; needs
/usr/sbin/sshd). Reported: wall time, CPU seconds (fog's own plus, for the
node, the node process's), peak RSS, and the ratio to the local directory.
Goal (issue 18): node within 1.3x of the local directory, faster than SFTP.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
import bench  # noqa: E402
import corpus as corpus_mod  # noqa: E402


class Node:
    """A `fog serve` process on 127.0.0.1 (a free port), stopped by close()."""

    def __init__(self, exe: str, root: Path, env: dict[str, str]) -> None:
        self.key = subprocess.run(
            [exe, "serve", str(root), "--show-key"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.log = open(root.parent / "node.log", "w+")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [exe, "serve", str(root), "--listen", "127.0.0.1:0"], env=env, stderr=self.log, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.log.seek(0)
            m = re.search(r"listening on (\S+):(\d+)", self.log.read())
            if m:
                self.address = f"127.0.0.1:{m.group(2)}"
                return
            time.sleep(0.05)
        raise SystemExit("fog serve did not start: " + (root.parent / "node.log").read_text())

    def cpu(self) -> float:
        """CPU seconds the node process has used so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def fog(exe: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([exe, *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"fog {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def one_round(exe: str, kind: str, url: str, c: corpus_mod.Corpus, work: Path, node: Node | None) -> dict:
    env_a = {**bench.base_env(), "FOG_HOME": str(work / "home-a")}
    env_b = {**bench.base_env(), "FOG_HOME": str(work / "home-b")}
    share, key = work / "share", work / "master.key"
    if node is None:
        shutil.copytree(c.root, share, symlinks=True)
        fog(exe, env_a, "init", str(share), "--remote", url, "--master-key-file", str(key), "--device-name", "a")
        clone_url = url
    else:
        fog(exe, env_a, "init", str(share), "--remote", str(work / "seed"), "--master-key-file", str(key))
        fog(
            exe,
            env_a,
            "-C",
            str(share),
            "device",
            "add-untrusted",
            "node",
            "--address",
            node.address,
            "--key",
            node.key,
        )
        fog(exe, env_a, "-C", str(share), "remote", "remove", "origin")
        shutil.copytree(c.root, share, symlinks=True, dirs_exist_ok=True)
        clone_url = url
    node_cpu = node.cpu() if node else 0.0
    wall, cpu, rss, _ = bench.run([exe, "-C", str(share), "push", "-q"], env_a)
    push = {"seconds": wall, "cpu": cpu + ((node.cpu() - node_cpu) if node else 0.0), "rss_mb": rss / 1024}
    node_cpu = node.cpu() if node else 0.0
    target = work / "clone"
    wall, cpu, rss, _ = bench.run(
        [exe, "clone", clone_url, str(target), "--master-key-file", str(key), "--device-name", "b"], env_b
    )
    clone = {"seconds": wall, "cpu": cpu + ((node.cpu() - node_cpu) if node else 0.0), "rss_mb": rss / 1024}
    files, size = corpus_mod.tree_stats(target, exclude=".fog")
    if (files, size) != (c.files, c.bytes):
        raise SystemExit(f"{kind}: the clone holds {files} files, {size} bytes; expected {c.files}, {c.bytes}")
    return {"push": push, "clone": clone}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--kinds", default="local,sftp,node")
    ap.add_argument("--fog", default=None, help="the fog executable (default: next to this Python, else PATH)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--output", type=Path, default=None)
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",")
    exe = bench.find_tools(["fog"], args.fog)["fog"]
    work = Path(tempfile.mkdtemp(prefix="fog-node-bench-", dir=args.workdir))
    servers: list = []
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    try:
        c = corpus_mod.generate(work / "corpus", args.scale)
        print(f"corpus: {c.files} files, {c.bytes / 1e6:.1f} MB", flush=True)
        env = bench.base_env()
        sftp_url = None
        if "sftp" in kinds:
            from sshd import SSHServer, make_ssh_home

            server = SSHServer(work / "sshd")
            server.start()
            servers.append(server)
            os.environ["HOME"] = str(make_ssh_home(work / "sshhome", server).home)
            os.environ.pop("SSH_AUTH_SOCK", None)
            sftp_url = server.url
        for rnd in range(args.rounds):
            for kind in kinds:
                r = work / f"r{rnd}-{kind}"
                r.mkdir()
                node = None
                if kind == "local":
                    url = str(r / "remote")
                elif kind == "sftp":
                    url = sftp_url(server.data / f"r{rnd}")  # type: ignore[misc]
                else:
                    node = Node(exe, r / "node", env)
                    url = f"fog://{node.address}"
                try:
                    res = one_round(exe, kind, url, c, r, node)
                finally:
                    if node:
                        node.close()
                results[kind].append(res)
                print(kind, json.dumps(res), flush=True)
                shutil.rmtree(r, ignore_errors=True)
        print(f"\n{'remote':<8} {'push s':>8} {'cpu s':>7} {'vs local':>9} {'clone s':>8} {'cpu s':>7} {'vs local':>9}")
        med = {
            k: {op: sorted(x[op]["seconds"] for x in v)[len(v) // 2] for op in ("push", "clone")}
            for k, v in results.items()
        }
        cpu = {
            k: {op: sorted(x[op]["cpu"] for x in v)[len(v) // 2] for op in ("push", "clone")}
            for k, v in results.items()
        }
        for k in kinds:
            ref = med.get("local")
            rel = {op: (f"{med[k][op] / ref[op]:.2f}x" if ref else "-") for op in ("push", "clone")}
            print(
                f"{k:<8} {med[k]['push']:>8.2f} {cpu[k]['push']:>7.2f} {rel['push']:>9} "
                f"{med[k]['clone']:>8.2f} {cpu[k]['clone']:>7.2f} {rel['clone']:>9}"
            )
        out = args.output or Path(f"node-bench-{args.scale}.json")
        out.write_text(json.dumps({"scale": args.scale, "files": c.files, "bytes": c.bytes, "results": results}))
    finally:
        for s in servers:
            s.close() if hasattr(s, "close") else s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
