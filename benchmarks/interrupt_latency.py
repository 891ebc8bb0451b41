"""Time from a signal to the exit of `fog push` of one large random file on a local-directory remote.

    .venv/bin/python benchmarks/interrupt_latency.py SIZE_MIB DELAY_S [SIGINT|SIGTERM] [FOG_SOURCE_DIR]

Writes SIZE_MIB of random bytes into a new share under /tmp, starts `fog push
-q`, sends the signal DELAY_S seconds later, prints the exit code, the
seconds from the signal to the exit and stderr, then checks that the next
push completes. FOG_SOURCE_DIR (put first on PYTHONPATH) measures another
checkout, e.g. an older commit unpacked with `git archive REV fog | tar -x -C DIR`.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

size_mb, delay = int(sys.argv[1]), float(sys.argv[2])
sig = sys.argv[3] if len(sys.argv) > 3 else "SIGINT"
source = sys.argv[4] if len(sys.argv) > 4 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
base = tempfile.mkdtemp(prefix="fog-interrupt-")
env = dict(os.environ, FOG_HOME=os.path.join(base, "home"), PYTHONPATH=source)
fog = [sys.executable, "-m", "fog"]
share = os.path.join(base, "share")
try:
    subprocess.run([*fog, "init", share, "--remote", os.path.join(base, "remote"), "--master-key-file",
                    os.path.join(base, "key")], env=env, check=True, capture_output=True)  # fmt: skip
    with open(os.path.join(share, "big.bin"), "wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(1 << 20))
    p = subprocess.Popen([*fog, "push", "-q"], cwd=share, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    time.sleep(delay)
    sent = time.monotonic()
    p.send_signal(getattr(signal, sig))
    _, err = p.communicate()
    took = time.monotonic() - sent
    print(f"{sig} {delay:.1f} s into a {size_mb} MiB push: exit {p.returncode}, {took:.2f} s after the signal; "
          f"stderr {err.decode()!r}")  # fmt: skip
    again = subprocess.run([*fog, "push", "-q"], cwd=share, env=env, capture_output=True)
    print(f"next push: exit {again.returncode} {again.stderr.decode()!r}")
finally:
    shutil.rmtree(base)
