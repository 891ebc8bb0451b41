"""A seeded, deterministic corpus for the push/restore benchmark (issue 5).

Usage:
    python benchmarks/corpus.py DIR [--scale 1.0] [--seed 1]
    python benchmarks/corpus.py DIR --files100k [--scale 1.0] [--seed 1]

The standard corpus at `--scale 1.0` is 1.14 GB in 20,202 files:

- 20,000 small text-like files of 1-16 KiB, in nested directories (about 40
  files per directory, 1 to 4 levels deep);
- 200 files of 0.1-4 MiB under `media/`: the even-numbered ones are text
  (compressible), the odd-numbered ones random bytes (like photos or archives);
- `big/random.bin`, 256 MiB of random bytes;
- `big/app.log`, a 256 MiB compressible log file.

`--scale` multiplies the file counts and the two big files' sizes (0.1 gives
2,000 small files, 20 medium ones and two 25.6 MiB files). `--files100k` makes
the other corpus instead: 100,000 (times `--scale`) text files of 0.5-1.5 KiB,
about 100 per directory.

The same seed and scale always give the same tree, byte for byte, with only
the standard library (SHAKE-128 streams; see _Pools for how content is made
fast). The text is made of a Zipf-distributed pseudo-word vocabulary; zstd
level 3 compresses it about 2.9x for a small file and 3.3x in 64 KiB blocks,
and the log 3.6x in 64 KiB blocks (4.7x whole). Nothing repeats at the block
level, so deduplication finds nothing to share inside the corpus, as with real
data.

Every file and directory gets the same mtime, FIXED_MTIME (2020-01-01, UTC).
fog, like git, does not trust the stat entry of a file modified within 2
seconds of a scan ("racy" files are re-read on the next push). A corpus written
a second before the first push would make the no-change push re-read
everything, which no real user sees; the fixed old mtime avoids that.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
FIXED_MTIME = 1_577_836_800  # 2020-01-01T00:00:00Z
_BLOCK = 4 * MIB  # generate and write in pieces of this size

_SYLLABLES = (
    "ba be bi bo bu ca ce ci co da de di do du fa fe fi fo ga ge gi go ha he hi ho ja je jo ka ke ki ko la le "
    "li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve "
    "vi vo wa we wi ya yo za ze zi zo an en in on un ar er ir or ur al el il ol st tr pr ch sh th"
).split()
_EXTENSIONS = (".txt", ".md", ".py", ".c", ".json", ".html", ".csv", ".rst")


@dataclass
class Corpus:
    root: Path
    kind: str  # "standard" or "files100k"
    scale: float
    seed: int
    files: int
    bytes: int
    seconds: float
    small_file: str  # a small text file, relative to root: the "one small change" target
    big_random: str | None  # the large random file: the "insert 100 bytes" target
    big_log: str | None


class _Stream:
    """Deterministic bytes for one label: SHAKE-128 of (seed, label, block number)."""

    def __init__(self, seed: int, label: str) -> None:
        self._prefix = f"{seed}\0{label}\0".encode()
        self._block = 0

    def read(self, n: int) -> bytes:
        out = []
        while n > 0:
            size = min(n, _BLOCK)
            out.append(hashlib.shake_128(self._prefix + str(self._block).encode()).digest(size))
            self._block += 1
            n -= size
        return b"".join(out)


def _word(rng: random.Random) -> str:
    n = rng.choices((1, 2, 3, 4), (3, 5, 3, 1))[0]
    return "".join(rng.choice(_SYLLABLES) for _ in range(n))


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        words[_word(rng)] = None
    return list(words)


def _prose_table(rng: random.Random) -> list[bytes]:
    """65,536 'word + separator' entries drawn from a Zipf-weighted vocabulary of 2,000 pseudo-words."""
    vocab = _vocabulary(rng, 2000)
    weights = [1 / (i + 1) ** 1.4 for i in range(len(vocab))]
    seps = [" "] * 80 + [", "] * 6 + [". "] * 6 + [".\n"] * 5 + ["\n"] * 3
    return [(w + rng.choice(seps)).encode() for w in rng.choices(vocab, weights, k=65536)]


def _log_table(rng: random.Random) -> list[bytes]:
    """65,536 log tokens: about 8% start a line (timestamp, level, service), the rest are message words."""
    services = [_word(rng) + "-" + _word(rng) for _ in range(12)]
    levels = ["INFO "] * 70 + ["DEBUG"] * 20 + ["WARN "] * 7 + ["ERROR"] * 3
    vocab = _vocabulary(rng, 300)
    vocab += [f"/api/v{rng.randint(1, 3)}/{_word(rng)}/{_word(rng)}" for _ in range(60)]
    vocab += [f"{k}={rng.randint(0, 9999)}" for k in ("user", "items", "took_ms", "status", "retry", "port")] * 4
    vocab += [f"id={rng.getrandbits(32):08x}" for _ in range(200)]
    weights = [1 / (i + 1) ** 1.2 for i in range(len(vocab))]
    entries = []
    for w in rng.choices(vocab, weights, k=65536):
        if rng.random() < 0.08:
            ts = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(FIXED_MTIME - rng.randrange(86400 * 30)))
            entries.append(f"\n{ts}.{rng.randrange(1000):03d} {rng.choice(levels)} [{rng.choice(services)}] ".encode())
        else:
            entries.append((w + " ").encode())
    return entries


def _text_pool(table: list[bytes], stream: _Stream, size: int) -> bytes:
    """`size` bytes of text: `table` indexed by 16-bit random numbers from `stream`."""
    avg = sum(map(len, table)) / len(table)
    parts, have = [], 0
    while have < size:
        idx = memoryview(stream.read(2 * (int((size - have) / avg * 1.05) + 16))).cast("H")
        parts.append(b"".join(map(table.__getitem__, idx)))
        have += len(parts[-1])
    return b"".join(parts)[:size]


_LETTERS = b"abcdefghijklmnopqrstuvwxyz"
_ALL_BYTES = bytes(range(256))


class _Pools:
    """Content is cut from three pools made once per seed: prose, log lines and random bytes.

    Building text word by word is slow in Python, so each file is made of
    pieces of at most 1 MiB, each one a slice of a pool at a random offset passed
    through a random substitution (of the 26 letters for text, of all 256 byte
    values for random data). A substitution keeps the statistics, so the text
    compresses like the pool, and it makes every piece differ from every other
    one in nearly every 64-byte window: chunkers find nothing to deduplicate.
    Generation runs at memory speed.
    """

    SIZE = 8 * MIB
    PIECE = 1 * MIB

    def __init__(self, seed: int, rng: random.Random) -> None:
        self.prose = _text_pool(_prose_table(rng), _Stream(seed, "pool:prose"), self.SIZE)
        self.log = _text_pool(_log_table(rng), _Stream(seed, "pool:log"), self.SIZE)
        self.random = _Stream(seed, "pool:random").read(self.SIZE)

    def content(self, kind: str, rng: random.Random, n: int) -> bytes:
        pool, alphabet = {
            "prose": (self.prose, _LETTERS),
            "log": (self.log, _LETTERS),
            "random": (self.random, _ALL_BYTES),
        }[kind]
        parts = []
        while n > 0:
            m = min(n, self.PIECE)
            off = rng.randrange(len(pool) - m + 1)
            shuffled = bytearray(alphabet)
            rng.shuffle(shuffled)
            table = bytearray(_ALL_BYTES)
            for a, b in zip(alphabet, shuffled, strict=True):
                table[a] = b
            parts.append(pool[off : off + m].translate(table))
            n -= m
        return b"".join(parts)


def _directories(rng: random.Random, count: int) -> list[str]:
    """`count` relative directory paths, 1 to 4 levels deep, as a random tree."""
    dirs: list[str] = []
    children: dict[str, set[str]] = {"": set()}
    while len(dirs) < count:
        parents = [""] + [d for d in dirs if d.count("/") < 3]
        parent = rng.choice(parents) if dirs and rng.random() < 0.8 else ""
        name = _word(rng)
        if name in children[parent]:
            continue
        children[parent].add(name)
        path = f"{parent}/{name}" if parent else name
        children[path] = set()
        dirs.append(path)
    return dirs


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def _write_pieces(path: Path, size: int, piece) -> None:  # type: ignore[no-untyped-def]
    """Write `size` bytes produced at most `_BLOCK` at a time by `piece(n)`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, _BLOCK)
            f.write(piece(n))
            left -= n


def set_tree_mtime(root: Path, mtime: int = FIXED_MTIME) -> None:
    """Give every file and directory under `root` (and `root`) the same old mtime."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
        os.utime(dirpath, (mtime, mtime))


def tree_stats(root: Path, exclude: str | None = None) -> tuple[int, int]:
    """(regular files, their total size) under `root`, skipping top-level `exclude`."""
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if exclude and dirpath == str(root) and exclude in dirnames:
            dirnames.remove(exclude)
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            total += st.st_size
    return files, total


def warm(root: Path) -> int:
    """Read every file under `root` once, so the benchmark starts with it in the page cache."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb", buffering=0) as f:
                while chunk := f.read(_BLOCK):
                    total += len(chunk)
    return total


def generate(root: Path, scale: float = 1.0, seed: int = 1, files100k: bool = False) -> Corpus:
    """Write the corpus into `root`, which must not exist or be empty."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rng = random.Random(seed)  # the tree's shape; each file's content has its own generator
    pools = _Pools(seed, rng)

    def make(rel: str, kind: str, size: int) -> None:
        file_rng = random.Random(f"{seed}:{rel}")
        _write_pieces(root / rel, size, lambda n: pools.content(kind, file_rng, n))

    if files100k:
        nsmall, per_dir, sizes = max(1, round(100_000 * scale)), 100, (512, 1536)
        big_random = big_log = None
    else:
        nsmall, per_dir, sizes = max(1, round(20_000 * scale)), 40, (1 * KIB, 16 * KIB)
        big_random, big_log = "big/random.bin", "big/app.log"
    dirs = _directories(rng, max(1, nsmall // per_dir))
    small = [
        (f"{rng.choice(dirs)}/{_word(rng)}-{i:06d}{rng.choice(_EXTENSIONS)}", rng.randint(*sizes))
        for i in range(nsmall)
    ]
    for rel, size in small:
        make(rel, "prose", size)
    if not files100k:
        for i in range(max(2, round(200 * scale))):
            size = rng.randint(100 * KIB, 4 * MIB)
            if i % 2 == 0:
                make(f"media/doc-{i:03d}.txt", "prose", size)
            else:
                make(f"media/blob-{i:03d}.bin", "random", size)
        big = max(MIB, int(256 * MIB * scale))
        make(big_random, "random", big)
        make(big_log, "log", big)

    set_tree_mtime(root)
    files, total = tree_stats(root)
    return Corpus(
        root=root,
        kind="files100k" if files100k else "standard",
        scale=scale,
        seed=seed,
        files=files,
        bytes=total,
        seconds=time.perf_counter() - start,
        small_file=small[len(small) // 2][0],
        big_random=big_random,
        big_log=big_log,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="where to write the corpus (must not exist, or be empty)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the full 1.14 GB corpus (default)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files100k", action="store_true", help="100,000 files of ~1 KiB instead")
    parser.add_argument("--force", action="store_true", help="delete DIR first if it exists")
    args = parser.parse_args(argv)
    if args.force and args.dir.exists():
        shutil.rmtree(args.dir)
    try:
        c = generate(args.dir, args.scale, args.seed, args.files100k)
    except (FileExistsError, ValueError) as e:
        print(f"corpus: {e}", file=sys.stderr)
        return 2
    print(f"{c.kind} corpus in {c.root}: {c.files} files, {c.bytes / 1e6:.1f} MB, {c.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
