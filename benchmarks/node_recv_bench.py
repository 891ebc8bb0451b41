"""Receiving large node messages: W.send on one end of a socket pair, W.recv on the other, after a real
handshake (the secret streams included), as a put of that size reaches `fog serve`.

Usage:
    python benchmarks/node_recv_bench.py [--count 60] [--mib 8]

Prints the wall and CPU time (both threads of this process) per message.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time

from fog.backends import nodewire as W
from fog.crypto import channel as C
from fog.crypto import seal as S


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--mib", type=int, default=8)
    args = parser.parse_args()
    a, b = socket.socketpair()
    node_secret, node_public = S.new_keypair()
    client_secret, _ = S.new_keypair()
    server: dict[str, C.Session] = {}

    def accept() -> None:
        hs = C.ServerHandshake(C.SocketPipe(b), node_secret)
        hs.read_msg1()
        session = hs.prove()
        hs.admit(session, {"proto": 1})
        server["s"] = session

    t = threading.Thread(target=accept)
    t.start()
    client = C.client_handshake(C.SocketPipe(a), client_secret, node_public, {"proto": 1})
    t.join()
    data = os.urandom(args.mib << 20)

    def send() -> None:
        for _ in range(args.count):
            W.send(client, W.OP_PUT, {"name": "x"}, data)

    sender = threading.Thread(target=send)
    sender.start()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.count):
        _, _, got = W.recv(server["s"], 1 << 30)
        assert len(got) == len(data)
    sender.join()
    wall, cpu = (time.perf_counter() - t0) / args.count, (time.process_time() - c0) / args.count
    print(f"{args.mib} MiB message: {wall * 1000:.2f} ms wall, {cpu * 1000:.2f} ms CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
