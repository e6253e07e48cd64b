"""The on-disk cache of reference evaluations (reference/cache.py).

Each test points LOSSCONFORM_CACHE_DIR at its own temporary directory and resets the process's
store and in-process memo, so nothing here reads or writes the repository's `.lossconform-cache/`.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import textwrap

import pytest

from reference import cache
from reference import elementwise as ew

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POINTS = [(0.5, 3.0), (-1.25, 0.0), (2.0, 1.0), (7.5, 12.5), (math.nan, 2.0), (math.inf, 1.0), (-0.0, 5e-324),
          (1e308, 3.0), (-745.5, 30.0)]
PARAMS = dict(log_input=True, full=True, eps=1e-8)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_DIR, str(d))
    monkeypatch.delenv(cache.ENV_SWITCH, raising=False)
    cache.reset()
    ew.cache_clear()
    yield d
    cache.reset()
    ew.cache_clear()


def bits(e):
    """Every field of an Element, bit for bit (binary64 by its pattern, NaN sign included)."""
    fb = lambda v: struct.pack("<d", v)  # noqa: E731
    return (e.outputs, tuple(x._mpf_ for x in e.exact), tuple(map(fb, e.bound)), tuple(e.overflow),
            tuple(map(fb, e.parts)), tuple(map(fb, e.peak)), e.precision, e.converged)


def evaluate_all(dtype="float64"):
    out = [ew.element("poisson", p, PARAMS, dtype) for p in POINTS]
    out.append(ew.element("gaussian", (0.5, -0.25, 1e-9), dict(full=True, eps=1e-6), dtype))
    out.append(ew.element("poisson", (0.5, 3.0, 0.25), dict(PARAMS, mean_n=4, order="local"), dtype, "float16"))
    return out


def straightforward_all(dtype="float16"):
    return [ew.straightforward("poisson", p, PARAMS, dtype) for p in POINTS]


def no_evaluation(monkeypatch):
    def refuse(*_):
        raise AssertionError("evaluated although the cache holds the point")

    monkeypatch.setattr(ew, "_evaluate", refuse)
    monkeypatch.setattr(ew, "_straightforward_eval", refuse)


def db_files(d):
    return sorted(p for p in os.listdir(d) if p.endswith(".sqlite3")) if os.path.isdir(d) else []


def test_a_hit_returns_the_same_element_bit_for_bit(cache_dir, monkeypatch):
    first, first_straightforward = evaluate_all(), straightforward_all()
    cache.flush()
    ew.cache_clear()  # the in-process memo is gone; only the disk remains
    no_evaluation(monkeypatch)
    again, again_straightforward = evaluate_all(), straightforward_all()
    assert [bits(e) for e in again] == [bits(e) for e in first]
    assert [[v._mpf_ for v in t] for t in again_straightforward] == [[v._mpf_ for v in t] for t in first_straightforward]
    assert db_files(cache_dir) == [f"reference-{cache.source_hash()}.sqlite3"]


def test_a_second_process_reads_what_the_first_wrote(cache_dir):
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        from reference import elementwise as ew
        def refuse(*_):
            raise SystemExit("evaluated")
        if sys.argv[1] == "read":
            ew._evaluate = refuse
        for x in range(40):
            ew.element("poisson", (x / 8, 3.0), dict(log_input=True, full=True, eps=1e-8), "float32")
    """)
    env = dict(os.environ, **{cache.ENV_DIR: str(cache_dir)})
    for mode in ("write", "read"):
        run = subprocess.run([sys.executable, "-c", code, mode], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(cache_dir, monkeypatch):
    want = [bits(e) for e in evaluate_all()]
    cache.reset()
    path = os.path.join(cache_dir, db_files(cache_dir)[0])
    for suffix in ("-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with open(path, "wb") as f:
        f.write(b"this is not a database" * 100)
    ew.cache_clear()
    assert [bits(e) for e in evaluate_all()] == want  # recomputed, no error
    cache.reset()
    with sqlite3.connect(path) as conn:  # and the file is a working cache again
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM memo").fetchone()[0] == len(want)


def test_a_damaged_record_is_a_miss(cache_dir):
    want = [bits(e) for e in evaluate_all()]
    cache.reset()
    path = os.path.join(cache_dir, db_files(cache_dir)[0])
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT k, v FROM memo").fetchall()
        for i, (k, v) in enumerate(rows):  # flip a bit, truncate, or replace by junk
            bad = [bytes([v[0] ^ 1]) + v[1:], v[:-3], b"\x00" * 3][i % 3]
            conn.execute("UPDATE memo SET v = ? WHERE k = ?", (bad, k))
    ew.cache_clear()
    assert [bits(e) for e in evaluate_all()] == want


def test_records_decode_only_as_normalized_numbers():
    good = cache.encode_values((ew._make((0, 3, -1, 2)),))
    assert cache.decode_values(good)[0]._mpf_ == (0, 3, -1, 2)
    for bad in ((0, 4, -1, 3), (0, 3, -1, 5), (2, 3, -1, 2), (0, -3, -1, 2), (0, 0, 7, 0), (0, 3.0, -1, 2)):
        with pytest.raises((ValueError, TypeError)):
            cache.decode_values(cache._seal((bad,)))


def test_a_changed_reference_misses(cache_dir, monkeypatch, tmp_path):
    evaluate_all()
    cache.flush()
    # the hash covers the source text: an edited copy of the sources hashes differently
    src = tmp_path / "src"
    src.mkdir()
    for name in cache.sources():
        shutil.copy(os.path.join(cache._HERE, name), src / name)
    with open(src / "poisson.py", "a") as f:
        f.write("\n# an edit\n")
    monkeypatch.setattr(cache, "_HERE", str(src))
    monkeypatch.setattr(cache, "_HASH", None)
    changed = cache.source_hash()
    monkeypatch.setattr(cache, "_HASH", None)
    monkeypatch.setattr(cache, "_HERE", os.path.dirname(cache.__file__))
    assert changed != cache.source_hash()
    # a store under another hash holds none of the points
    monkeypatch.setattr(cache, "_HASH", changed)
    cache.reset()
    ew.cache_clear()
    calls = []
    real = ew._evaluate
    monkeypatch.setattr(ew, "_evaluate", lambda *a: calls.append(a) or real(*a))
    evaluate_all()
    assert len(calls) == len(POINTS) + 2
    assert len(db_files(cache_dir)) == 2


@pytest.mark.parametrize("switch", ["off", "0", "OFF", "false"])
def test_the_cache_can_be_switched_off(cache_dir, monkeypatch, switch):
    monkeypatch.setenv(cache.ENV_SWITCH, switch)
    cache.reset()
    assert cache.store() is None
    evaluate_all()
    straightforward_all()
    cache.flush()
    assert not os.path.exists(cache_dir)


def test_an_unusable_location_disables_the_cache_silently(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(cache.ENV_DIR, str(blocker / "cache"))
    cache.reset()
    ew.cache_clear()
    try:
        assert cache.store() is None
        assert len(evaluate_all()) == len(POINTS) + 2
    finally:
        cache.reset()
        ew.cache_clear()


def test_deleting_the_cache_while_in_use_is_harmless(cache_dir):
    want = [bits(e) for e in evaluate_all()]
    shutil.rmtree(cache_dir)
    ew.cache_clear()
    assert [bits(e) for e in evaluate_all("float32")]  # writes go nowhere, no error
    cache.flush()
    cache.reset()
    ew.cache_clear()
    assert [bits(e) for e in evaluate_all()] == want  # a fresh file is made


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from reference import cache, elementwise as ew
    cache.FLUSH_EVERY = 7  # many small transactions, interleaved with the other writer's
    start = int(sys.argv[2])
    for i in range(start, start + 300):
        x = (i % 97) / 16 - 3
        ew.element("poisson", (x, float(i % 11)), dict(log_input=True, full=False, eps=1e-8), "float16")
        ew.straightforward("poisson", (x, float(i % 11)), dict(log_input=True, full=False, eps=1e-8), "float16")
""")


def test_two_processes_writing_concurrently_do_not_corrupt_it(cache_dir):
    env = dict(os.environ, **{cache.ENV_DIR: str(cache_dir)})
    env.pop(cache.ENV_SWITCH, None)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, ROOT, str(start)], env=env, stderr=subprocess.PIPE,
                              text=True) for start in (0, 150)]  # overlapping halves: the same keys, concurrently
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    path = os.path.join(cache_dir, db_files(cache_dir)[0])
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT k, v FROM memo").fetchall()
    assert len(rows) == 2 * 450  # element and straightforward of every distinct point of both (i = 0..449), once each
    params = dict(log_input=True, full=False, eps=1e-8)
    checked = 0
    for k, v in rows:
        if not k.startswith(b"element|"):
            continue
        x, t, g = struct.unpack("<3d", k[-24:])
        e = cache.decode_element(v, ew.Element)
        assert bits(e) == bits(ew._evaluate("poisson", (x, t, g), ew._params_key(params), "float16", "float16"))
        checked += 1
    assert checked > 100


def test_records_of_another_process_are_found_by_a_process_that_started_empty(cache_dir, monkeypatch):
    ew.element("poisson", (0.25, 1.0), PARAMS, "float64")  # this process's store opens on an empty file
    assert cache.store() is not None and not cache.store().foreign
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        from reference import elementwise as ew
        for x in range(20):
            ew.element("poisson", (x / 8, 3.0), dict(log_input=True, full=True, eps=1e-8), "float32")
    """)
    env = dict(os.environ, **{cache.ENV_DIR: str(cache_dir)})
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    for i in range(70):  # lookups are skipped while only this process has written; it checks every 64
        ew.element("poisson", (i / 3, 2.0), PARAMS, "float16")
    assert cache.store().foreign
    no_evaluation(monkeypatch)
    for x in range(20):
        ew.element("poisson", (x / 8, 3.0), PARAMS, "float32")
