"""A seeded, deterministic corpus for the push/restore benchmark (issue 5).

Usage:
    python benchmarks/corpus.py DIR [--scale 1.0] [--seed 1]
    python benchmarks/corpus.py DIR --files100k [--scale 1.0] [--seed 1]
    python benchmarks/corpus.py DIR --realtree [--scale 1.0] [--seed 1]
    python benchmarks/corpus.py DIR --tree SRC

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

`--realtree` makes a tree shaped like a real one (modelled on a Linux system's
/usr/share/doc plus Python's standard library, the tree of issue 20): at scale
1.0 about 102,000 files averaging ~17 KB (1.7 GB), 17,000 directories up to
10 levels deep and 5,100 relative symlinks. See generate_realtree. `--tree SRC`
copies an existing directory instead (symlinks kept as symlinks).

The same seed and scale always give the same tree, byte for byte, with only
the standard library (SHAKE-128 streams; see _Pools for how content is made
fast). The text is made of a Zipf-distributed pseudo-word vocabulary; zstd
level 3 compresses it about 2.9x for a small file and 3.3x in 64 KiB blocks,
and the log 3.6x in 64 KiB blocks (4.7x whole). Nothing repeats at the block
level, so deduplication finds nothing to share inside the corpus, as with real
data.

Every file, directory and symlink gets the same mtime, FIXED_MTIME (2020-01-01, UTC).
fog, like git, does not trust the stat entry of a file modified within 2
seconds of a scan ("racy" files are re-read on the next push). A corpus written
a second before the first push would make the no-change push re-read
everything, which no real user sees; the fixed old mtime avoids that.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import posixpath
import random
import shutil
import stat
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
    kind: str  # "standard", "files100k", "realtree" or "tree"
    scale: float
    seed: int
    files: int
    bytes: int
    seconds: float
    small_file: str  # a small text file, relative to root: the "one small change" target
    big_random: str | None  # the large random file: the "insert 100 bytes" target
    big_log: str | None
    dirs: int = 0  # below root, symlinks to directories not counted
    symlinks: int = 0


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
    """Give every file, directory and symlink under `root` (and `root`) the same old mtime."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
        for name in dirnames:  # os.walk lists a symlink to a directory here, and does not enter it
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                os.utime(path, (mtime, mtime), follow_symlinks=False)
        os.utime(dirpath, (mtime, mtime))


def tree_stats(root: Path, exclude: str | None = None) -> tuple[int, int]:
    """(regular files, their total size) under `root`, skipping top-level `exclude`."""
    files = total = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if exclude and dirpath == str(root) and exclude in dirnames:
            dirnames.remove(exclude)
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                files += 1
                total += st.st_size
    return files, total


def tree_counts(root: Path) -> tuple[int, int]:
    """(directories, symlinks) under `root`."""
    dirs = links = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                links += 1
            elif name in dirnames:
                dirs += 1
    return dirs, links


def warm(root: Path) -> int:
    """Read every file under `root` once, so the benchmark starts with it in the page cache."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            with open(path, "rb", buffering=0) as f:
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


# --- the real-tree-like corpus -----------------------------------------------------------------------------------

# Extensions by content: text (source, docs, data) and already compressed or binary (gzip'd changelogs,
# images, compiled modules), whose bytes are random here.
_TEXT_EXTENSIONS = (".txt", ".py", ".py", ".py", ".html", ".rst", ".md", ".c", ".h", ".json", ".css", ".js", "")
_BINARY_EXTENSIONS = (".gz", ".gz", ".gz", ".png", ".pyc", ".so", ".jpg", ".zip")
_LICENCE_NAMES = ("copyright", "LICENSE", "COPYING", "LICENSE.txt", "NOTICE")
# Share of directories at each depth 1..10 (/usr/share/doc: thousands of package directories at depth 1,
# most with a few files; Python's library: packages nested 3-8 deep).
_DEPTH_WEIGHTS = (14, 22, 22, 16, 11, 7, 4, 2, 1, 1)


def _realtree_dirs(rng: random.Random, count: int) -> list[str]:
    """`count` directory paths, 1 to 10 levels deep, grown by preferential attachment within each level."""
    pools: list[list[str]] = [[""]] + [[] for _ in _DEPTH_WEIGHTS]  # pools[d]: parents at depth d, repeated
    names: dict[str, set[str]] = {"": set()}
    dirs: list[str] = []
    depths = range(1, len(_DEPTH_WEIGHTS) + 1)
    while len(dirs) < count:
        depth = rng.choices(depths, _DEPTH_WEIGHTS)[0]
        while not pools[depth - 1]:
            depth -= 1
        parent = rng.choice(pools[depth - 1])
        name = _word(rng)
        if name in names[parent]:
            continue
        names[parent].add(name)
        path = f"{parent}/{name}" if parent else name
        names[path] = set()
        dirs.append(path)
        pools[depth].append(path)
        pools[depth - 1].append(parent)  # a directory with children gets more: a heavy-tailed fan-out
    return dirs


def _file_size(rng: random.Random) -> int:
    """Log-normal: median 3.5 KiB, mean ~17 KB, a few files of several MiB (capped at 48 MiB)."""
    return min(int(rng.lognormvariate(8.16, 1.75)), 48 * MIB)


def generate_realtree(root: Path, scale: float = 1.0, seed: int = 1) -> Corpus:
    """A tree shaped like a real one: /usr/share/doc plus Python's standard library (issue 20).

    At scale 1.0: 102,000 files, 17,000 directories and 5,100 symlinks, about 1.7 GB.

    - directories 1 to 10 levels deep, ~2,400 at the top; each level grows by
      preferential attachment, so a few directories have hundreds of entries
      and most have a handful (every leaf directory has a file, except ~1 %
      left empty);
    - file sizes log-normal: about half the files under 4 KiB, a median of
      ~3.5 KiB, a mean of ~17 KB, a few files of several MiB; 1.5 % are empty;
    - 5 % of the files are exact copies of one of 30 licence texts (named
      copyright, LICENSE, COPYING ...), drawn Zipf-like, as in a real tree;
    - of the others, 72 % text (prose), 8 % log-like text (changelogs), 20 %
      random bytes (.gz, .png, .pyc ...: already compressed);
    - modes: 7 % executable (0755), 1 % 0600, 1 % read-only (0444), the rest 0644;
    - symlinks, 5 % of the file count, relative: 80 % to a file, 17 % to a
      directory, 3 % dangling (to a name that does not exist).
    """
    if scale <= 0:
        raise ValueError("scale must be positive")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rng = random.Random(f"{seed}:realtree")
    pools = _Pools(seed, rng)
    nfiles = max(1, round(102_000 * scale))
    dirs = _realtree_dirs(rng, max(1, round(17_000 * scale)))
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    taken: dict[str, set[str]] = {d: set() for d in ["", *dirs]}
    has_child = {d.rpartition("/")[0] for d in dirs}
    leaves = [d for d in dirs if d not in has_child]
    weights = [min(rng.paretovariate(1.2), 300.0) for _ in dirs]
    licences = [
        pools.content("prose", random.Random(f"{seed}:licence:{i}"), rng.randint(1 * KIB, 36 * KIB)) for i in range(30)
    ]
    licence_weights = [1 / (i + 1) for i in range(len(licences))]

    def place(directory: str, base: str, ext: str) -> str:
        name = f"{base}{ext}"
        n = 1
        while name in taken[directory]:
            n += 1
            name = f"{base}-{n}{ext}"
        taken[directory].add(name)
        return f"{directory}/{name}" if directory else name

    homes = [d for d in leaves if rng.random() >= 0.01]  # every leaf but ~1 % gets a file
    homes += rng.choices(dirs, weights, k=max(0, nfiles - len(homes)))
    files: list[str] = []
    text_files: list[str] = []
    for i, directory in enumerate(homes[:nfiles]):
        r = rng.random()
        if r < 0.05:
            content = rng.choices(licences, licence_weights)[0]
            rel = place(directory, rng.choice(_LICENCE_NAMES), "")
        else:
            size = 0 if rng.random() < 0.015 else _file_size(rng)
            kind = rng.choices(("prose", "log", "random"), (72, 8, 20))[0]
            exts = _BINARY_EXTENSIONS if kind == "random" else (".log",) if kind == "log" else _TEXT_EXTENSIONS
            rel = place(directory, f"{_word(rng)}-{i:06d}", rng.choice(exts))
            content = pools.content(kind, random.Random(f"{seed}:{rel}"), size)
            if kind == "prose" and 1 * KIB <= size <= 16 * KIB:
                text_files.append(rel)
        path = root / rel
        with open(path, "wb") as f:
            f.write(content)
        m = rng.random()
        mode = 0o755 if m < 0.07 else 0o600 if m < 0.08 else 0o444 if m < 0.09 else 0o644
        if mode != 0o644:
            os.chmod(path, mode)
        files.append(rel)
    for i in range(max(1, round(0.05 * nfiles))):
        directory = rng.choice(dirs)
        r = rng.random()
        if r < 0.80:
            target = rng.choice(files)
        elif r < 0.97:
            target = rng.choice(dirs)
        else:
            target = f"{rng.choice(dirs)}/missing-{i}"
        rel = place(directory, f"{posixpath.basename(target)}-link", "")
        os.symlink(posixpath.relpath(target, directory or "."), root / rel)

    set_tree_mtime(root)
    nfiles_written, total = tree_stats(root)
    ndirs, nlinks = tree_counts(root)
    return Corpus(
        root=root,
        kind="realtree",
        scale=scale,
        seed=seed,
        files=nfiles_written,
        bytes=total,
        seconds=time.perf_counter() - start,
        small_file=text_files[len(text_files) // 2] if text_files else files[0],
        big_random=None,
        big_log=None,
        dirs=ndirs,
        symlinks=nlinks,
    )


def copy_tree(source: Path, root: Path) -> Corpus:
    """A copy of the directory `source` as the corpus: symlinks copied as symlinks, every mtime FIXED_MTIME.

    Anything that is not a regular file, directory or symlink (a FIFO, a socket, a device) is left out.
    """
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty")
    if root.exists():
        root.rmdir()
    start = time.perf_counter()

    def special(directory: str, names: list[str]) -> list[str]:
        keep = (stat.S_ISREG, stat.S_ISDIR, stat.S_ISLNK)
        return [n for n in names if not any(ok(os.lstat(os.path.join(directory, n)).st_mode) for ok in keep)]

    shutil.copytree(source, root, symlinks=True, ignore=special)
    set_tree_mtime(root)
    files, total = tree_stats(root)
    ndirs, nlinks = tree_counts(root)
    small = ""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not small and not os.path.islink(path) and os.path.getsize(path) > 0:
                small = os.path.relpath(path, root)
    if not small:
        raise ValueError(f"{source} has no non-empty regular file")
    return Corpus(
        root=root,
        kind="tree",
        scale=1.0,
        seed=0,
        files=files,
        bytes=total,
        seconds=time.perf_counter() - start,
        small_file=small,
        big_random=None,
        big_log=None,
        dirs=ndirs,
        symlinks=nlinks,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="where to write the corpus (must not exist, or be empty)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the full 1.14 GB corpus (default)")
    parser.add_argument("--seed", type=int, default=1)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--files100k", action="store_true", help="100,000 files of ~1 KiB instead")
    kind.add_argument("--realtree", action="store_true", help="a real-tree-like corpus: 102,000 files, 1.7 GB")
    kind.add_argument("--tree", type=Path, metavar="SRC", help="a copy of the directory SRC instead")
    parser.add_argument("--force", action="store_true", help="delete DIR first if it exists")
    args = parser.parse_args(argv)
    if args.force and args.dir.exists():
        shutil.rmtree(args.dir)
    try:
        if args.tree:
            c = copy_tree(args.tree, args.dir)
        elif args.realtree:
            c = generate_realtree(args.dir, args.scale, args.seed)
        else:
            c = generate(args.dir, args.scale, args.seed, args.files100k)
    except (FileExistsError, ValueError) as e:
        print(f"corpus: {e}", file=sys.stderr)
        return 2
    print(
        f"{c.kind} corpus in {c.root}: {c.files} files, {c.dirs} directories, {c.symlinks} symlinks, "
        f"{c.bytes / 1e6:.1f} MB, {c.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
