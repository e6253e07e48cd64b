"""A persistent on-disk cache of the reference's element evaluations.

`elementwise._element` and `elementwise._straightforward` (each already memoised in-process by lru_cache)
look here before evaluating and store what they computed, so a point evaluated once is not
evaluated again by a later shrink step, check, worker process or run.

* **Keyed by the exact case**: what is evaluated (`element` or `straightforward`), the loss, the operands as
  their binary64 bit patterns (so -0.0, 0.0 and NaN payloads are distinct), the formula's parameters
  (floats by their bits; the evaluation order and `mean_n` are parameters), the result dtype, the
  compute format and mpmath's ambient working precision (the Tracked constants' errors are computed
  at it).
* **Invalidated when the reference changes**: the database file is named after a hash of the source
  text of the modules that define the values (`SOURCES`), of the encoding, and of the versions of
  Python and mpmath (and its backend). A changed reference opens a new, empty file; old files are
  never read again (delete the directory to reclaim the space).
* **Located** in `$LOSSCONFORM_CACHE_DIR` if set, else `.lossconform-cache/` at the repository root;
  `LOSSCONFORM_CACHE=off` (or `0`, `no`, `false`) disables it.
* **Safe to delete at any time, never an error**: every failure (a missing, unwritable, locked or
  corrupt file, a record that does not decode or fails its checksum) is a miss; a file sqlite
  reports as corrupt is removed and rebuilt. Records carry a CRC-32 and are decoded without pickle
  (marshal of plain tuples: a cache file is data, never code), checking every type and that every
  mpmath number is normalized.
* **Concurrent**: sqlite in WAL mode, so any number of processes read while one writes; writes are
  batched (at most `FLUSH_EVERY` records or `FLUSH_SECONDS` old, and at exit) in one transaction,
  in key order, and use INSERT OR IGNORE (two processes computing the same point store the same
  bytes). While only this process has written to the file (sqlite's data_version, checked every
  64 lookups) and its memo was not cleared, lookups would only miss and are skipped.

Values round-trip exactly: mpmath raw tuples (sign, mantissa, exponent, bitcount, with arbitrarily
large exponents) and binary64 floats by their bit patterns.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import os
import platform
import sqlite3
import struct
import sys
import time
import zlib

import mpmath
from mpmath import libmp

ENV_DIR = "LOSSCONFORM_CACHE_DIR"
ENV_SWITCH = "LOSSCONFORM_CACHE"
OFF = ("off", "0", "no", "false")
# the engine modules whose source defines the cached values (and this one: the encoding); every
# registered loss module is added to them (`sources`)
SOURCES = ("algebra.py", "floats.py", "elementwise.py", "allowance.py", "tolerance.py", "cache.py", "losses.py")
FORMAT_VERSION = 1
FLUSH_EVERY = 10000  # records (larger sorted batches touch fewer pages per record)
FLUSH_SECONDS = 2.0
BUSY_MS = 10000  # how long a writer waits for another process's write lock before giving up

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in OFF


def directory() -> str:
    return os.environ.get(ENV_DIR) or os.path.join(_ROOT, ".lossconform-cache")


_HASH = None


def sources() -> tuple:
    """SOURCES and the file of every loss module in the registry (reference/losses.py)."""
    from .losses import LOSSES

    return SOURCES + tuple(os.path.basename(m.__file__) for m in LOSSES.values())


def source_hash() -> str:
    """Hash of everything the cached values depend on (see the module docstring)."""
    global _HASH
    if _HASH is None:
        h = hashlib.sha256()
        for name in sources():
            h.update(name.encode() + b"\0")
            with open(os.path.join(_HERE, name), "rb") as f:
                h.update(f.read())
        h.update(f"{FORMAT_VERSION}|{sys.version}|{platform.machine()}|{mpmath.__version__}|{libmp.BACKEND}".encode())
        _HASH = h.hexdigest()[:20]
    return _HASH


# --- encoding -------------------------------------------------------------------------------------
# A record is marshal data (plain tuples of str, int, float and bool: marshal reads them in C and
# cannot run code) followed by its CRC-32; decoding checks the checksum, then every type and that
# every mpmath number is normalized, so a damaged record is a miss, never a wrong value. Floats keep
# their exact bits (marshal stores binary64 as is).
_D = struct.Struct("<d")
_SPECIALS = {libmp.fzero: libmp.fzero, libmp.fnan: libmp.fnan, libmp.finf: libmp.finf, libmp.fninf: libmp.fninf}


def _seal(obj) -> bytes:
    body = marshal.dumps(obj, 4)
    return body + zlib.crc32(body).to_bytes(4, "little")


def _unseal(blob: bytes):
    if len(blob) < 5 or zlib.crc32(blob[:-4]).to_bytes(4, "little") != blob[-4:]:
        raise ValueError("checksum")
    return marshal.loads(blob[:-4])


def _plain(t: tuple) -> tuple:
    return (t[0], int(t[1]), t[2], t[3])  # marshal takes int, not gmpy's mpz


def _mpf(t, make, MPZ=libmp.MPZ, int=int):
    sign, man, exp, bc = t  # a 4-tuple, else ValueError/TypeError
    if type(man) is not int or type(exp) is not int or type(bc) is not int:
        raise ValueError("not a number")
    if not man:
        s = _SPECIALS.get((sign, MPZ(0), exp, bc))
        if s is None:
            raise ValueError("not a number")
        return make(s)
    if not (sign == 0 or sign == 1) or man < 0 or not man & 1 or bc != man.bit_length():
        raise ValueError("not a normalized mpmath number")
    return make((sign, MPZ(man), exp, bc))


_FLOAT_TUPLE = {float}
_BOOL_TUPLE = {bool}


def _floats(xs, n) -> tuple:
    if type(xs) is not tuple or len(xs) != n or (n and set(map(type, xs)) != _FLOAT_TUPLE):
        raise ValueError("not floats")
    return xs


def _bools(xs, n) -> tuple:
    if type(xs) is not tuple or len(xs) != n or (n and set(map(type, xs)) != _BOOL_TUPLE):
        raise ValueError("not flags")
    return xs


def encode_element(e) -> bytes:
    # the fields are already tuples of float / bool (a record that does not decode is only a miss)
    return _seal((",".join(e.outputs), tuple([_plain(v._mpf_) for v in e.exact]), e.bound, e.overflow, e.parts,
                  e.peak, e.precision, e.converged))


def decode_element(blob: bytes, element_type):
    rec = _unseal(blob)
    if type(rec) is not tuple or len(rec) != 8 or type(rec[0]) is not str or type(rec[1]) is not tuple:
        raise ValueError("malformed record")
    names, exact, bound, overflow, parts, peak, precision, converged = rec
    outputs = tuple(names.split(","))
    n = len(outputs)
    if len(exact) != n or type(precision) is not int or type(converged) is not bool:
        raise ValueError("malformed record")
    make = mpmath.mp.make_mpf
    return element_type(outputs, tuple([_mpf(t, make) for t in exact]), _floats(bound, n), _bools(overflow, n),
                        _floats(parts, n), _floats(peak, n), precision, converged)


def encode_values(values) -> bytes:
    return _seal(tuple(_plain(v._mpf_) for v in values))


def decode_values(blob: bytes) -> tuple:
    rec = _unseal(blob)
    if type(rec) is not tuple:
        raise ValueError("malformed record")
    make = mpmath.mp.make_mpf
    return tuple([_mpf(t, make) for t in rec])


def _canon(v) -> str:
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, float):
        return "f" + _D.pack(v).hex()
    if isinstance(v, int):
        return "i" + str(v)
    if isinstance(v, str):
        return "s" + v
    raise TypeError(f"no cache key for {type(v).__name__}")


_HEADS: dict = {}


def key(kind: str, loss: str, operands: tuple, params_key: tuple, *formats: str) -> bytes:
    """The exact case: kind, loss, formats, ambient precision, parameters, operand bit patterns."""
    prec, rounding = mpmath.mp._prec_rounding
    hk = (kind, loss, params_key, formats, prec, rounding)
    head = _HEADS.get(hk)
    if head is None:
        head = "|".join((kind, loss, *formats, f"{prec}{rounding}", *(f"{k}={_canon(v)}" for k, v in params_key)))
        head = _HEADS[hk] = head.encode() + b"|"
    return head + struct.pack(f"<{len(operands)}d", *operands)


# --- the store ------------------------------------------------------------------------------------
class Store:
    """One process's connection to the cache file of the current source hash."""

    def __init__(self, path: str):
        self.path = path
        self.pid = os.getpid()
        self.pending: list = []
        self.last_flush = time.monotonic()
        self.conn = None
        self.failed = False
        # whether the file may hold records this process does not have in memory: records it wrote
        # itself are in elementwise's lru_cache, so while no other connection has committed (sqlite's
        # data_version) and the memo was not cleared, a lookup could only miss and is skipped
        self.foreign = True
        self.version = None
        self.lookups = 0
        self._connect()
        if self.conn is not None:
            try:
                self.foreign = self.conn.execute("SELECT 1 FROM memo LIMIT 1").fetchone() is not None
                self.version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            except Exception:
                self.foreign = True

    def _connect(self) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.conn = self._open_db()
        except sqlite3.DatabaseError as exc:
            if _corrupt(exc):
                self._rebuild()
            else:
                self._give_up()
        except Exception:
            self._give_up()

    def _open_db(self):
        """Open (creating if need be) with WAL; two processes creating the file at once may find it
        locked while the other sets the journal mode (sqlite does not wait on that): retry."""
        deadline = time.monotonic() + BUSY_MS / 1000
        delay = 0.005
        while True:
            try:
                return self._open_db_once()
            except sqlite3.OperationalError as exc:
                msg = str(exc).lower()
                if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, 0.2)

    def _open_db_once(self):
        conn = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS memo (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID")
            conn.execute("SELECT v FROM memo WHERE k = ?", (b"",)).fetchone()  # reads the schema: fails if corrupt
        except BaseException:
            conn.close()
            raise
        return conn

    def _give_up(self) -> None:
        self.failed = True
        self.pending = []
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def _rebuild(self) -> None:
        """A corrupt file: remove it (and its WAL) and start an empty one."""
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except OSError:
                pass
        try:
            self.conn = self._open_db()
        except Exception:
            self._give_up()

    def _error(self, exc) -> None:
        if isinstance(exc, sqlite3.DatabaseError) and _corrupt(exc):
            self.pending = []
            self._rebuild()

    def get(self, k: bytes):
        if self.conn is None:
            return None
        if not self.foreign:
            self.lookups += 1
            if self.lookups & 63:
                return None
            try:
                if self.conn.execute("PRAGMA data_version").fetchone()[0] == self.version:
                    return None
            except Exception:
                pass
            self.foreign = True
        try:
            row = self.conn.execute("SELECT v FROM memo WHERE k = ?", (k,)).fetchone()
        except Exception as exc:
            self._error(exc)
            return None
        return row[0] if row else None

    def put(self, k: bytes, v: bytes) -> None:
        if self.conn is None:
            return
        self.pending.append((k, v))
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if self.conn is None or not self.pending:
            return
        rows, self.pending = self.pending, []
        rows.sort()  # in key order: neighbouring records share B-tree pages, about half the cost
        try:
            with self.conn:  # one transaction
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.executemany("INSERT OR IGNORE INTO memo (k, v) VALUES (?, ?)", rows)
        except Exception as exc:  # locked for longer than BUSY_MS, disk full, deleted, corrupt: drop them
            self._error(exc)

    def close(self) -> None:
        self.flush()
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def _corrupt(exc) -> bool:
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg or "corrupt" in msg or "disk image" in msg


_STORE: Store | None = None
_DISABLED = object()
_ORPHANS: list = []


def store() -> Store | None:
    """This process's store, or None when the cache is off or unusable."""
    global _STORE
    s = _STORE
    if s is not None:
        if s is _DISABLED:
            return None
        if s.pid == os.getpid() and not s.failed:
            return s
        if s.pid != os.getpid():  # a forked child: never use (nor close) the parent's connection
            _ORPHANS.append(s.conn)
            s.conn = None
            s.pending = []
    if not enabled():
        _STORE = _DISABLED
        return None
    try:
        s = Store(os.path.join(directory(), f"reference-{source_hash()}.sqlite3"))
    except Exception:
        _STORE = _DISABLED
        return None
    _STORE = s if not s.failed else _DISABLED
    return None if s.failed else s


def reset() -> None:
    """Flush and forget this process's store: the next use reads the environment again."""
    global _STORE
    s = _STORE
    _STORE = None
    if isinstance(s, Store) and s.pid == os.getpid():
        s.close()


def flush() -> None:
    s = _STORE
    if isinstance(s, Store) and s.pid == os.getpid():
        s.flush()


def memo_cleared() -> None:
    """The in-process memo was cleared: from now on the file may hold records it lacks."""
    flush()
    s = _STORE
    if isinstance(s, Store):
        s.foreign = True


atexit.register(flush)


# --- what elementwise calls ---------------------------------------------------------------------
# A cache problem of any kind (no store, an unkeyable point, a damaged record, a failed write) is a
# miss: the value is computed, never taken from a record that did not decode.
def _get(decode, *key_parts):
    s = store()
    if s is None:
        return None, None
    try:
        k = key(*key_parts)
    except Exception:
        return None, None
    blob = s.get(k)
    if blob is not None:
        try:
            return decode(blob), k
        except Exception:
            pass
    return None, k


def _put(k, blob_of, value) -> None:
    s = store()
    if s is None or k is None:
        return
    try:
        s.put(k, blob_of(value))
    except Exception:
        pass


def get_element(loss, operands, params_key, dtype, compute, element_type):
    return _get(lambda blob: decode_element(blob, element_type), "element", loss, operands, params_key, dtype, compute)


def put_element(k, e) -> None:
    _put(k, encode_element, e)


def get_straightforward(loss, operands, params_key, dtype):
    return _get(decode_values, "straightforward", loss, operands, params_key, dtype)


def put_straightforward(k, values) -> None:
    _put(k, encode_values, values)
