"""The cache within its bound and its disk full: a file larger than
cache_size streams through it, a full disk fails a write with ENOSPC and
nothing half-written reaches the relay, and reads go on past the cache."""

import errno
import os
import threading

import pytest

from conftest import Mount
from helpers import placeholder, tmpfs


@pytest.fixture(params=["6m", "12m"])
def small_cache(request, tmp_path):
    """The cache folder of client alice on a small tmpfs: 6 MiB, or 12 MiB
    (the 8 MiB past which a push follows the writes fit)."""
    with tmpfs(tmp_path / "cache-alice", request.param) as d:
        yield d


def test_write_that_overflows_the_cache_disk_is_never_pushed(
        relay, tmp_path, small_cache):
    # a push that followed the writes is cut off by the one that fails
    alice = Mount(relay, "alice", str(tmp_path), [])
    try:
        with open(alice.p("big"), "wb") as f:
            f.write(b"version 1\n")
        with pytest.raises(OSError) as e:
            with open(alice.p("big"), "wb") as f:
                for _ in range(24):
                    f.write(os.urandom(1024 * 1024))
        assert e.value.errno == errno.ENOSPC
        # the relay keeps the previous version, and the failed copy is gone
        assert relay.read("big") == b"version 1\n"
        assert relay.locks() == []
        with open(alice.p("next"), "wb") as f:
            f.write(b"fits\n")
        assert relay.read("next") == b"fits\n"
        with open(alice.p("big"), "rb") as f:
            assert f.read() == b"version 1\n"
    finally:
        assert alice.unmount() == 0
    assert os.listdir(small_cache / "staging") == []
    text = alice.text()
    assert "write to the copy of big failed" in text
    assert "the copy of big is removed" in text
    # nothing of it is pushed by a later mount either
    again = Mount(relay, "alice", str(tmp_path), [])
    assert again.unmount() == 0
    assert relay.read("big") == b"version 1\n"


def disk_use(folder):
    """Bytes the files below folder take on disk (holes not counted)."""
    total = 0
    for top, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.stat(os.path.join(top, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def test_cache_keeps_its_bound_while_a_larger_file_is_read(
        relay, mount, tmp_path):
    mib = 1024 * 1024
    data = os.urandom(24 * mib)
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M", "cache_size=4M", "pullers=2")
    blocks = str(tmp_path / "cache-bob" / "blocks")
    most, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            most[0] = max(most[0], disk_use(blocks))
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        got = bytearray()
        with open(bob.p("big"), "rb") as f:
            while True:
                chunk = f.read(128 * 1024)
                if not chunk:
                    break
                got += chunk
    finally:
        done.set()
        sampler.join()
    assert bytes(got) == data
    # the bound, plus the blocks in flight: the one read and transfers=4
    # fetched ahead
    # (and a few KiB of block maps and keys)
    assert most[0] <= 4 * mib + 5 * mib + 64 * 1024, most[0]
    assert disk_use(blocks) <= 4 * mib + 64 * 1024
    stats = dict(kv.split("=") for kv in
                 os.getxattr(bob.path, "user.relay.stats").decode().split())
    assert int(stats["cache_size"]) == 4 * mib
    assert int(stats["cache_used"]) <= 4 * mib + 64 * 1024
    assert int(stats["cache_disk_free"]) > 0
    # verified in order as the blocks came, so the pull registered
    bob.settle()
    assert placeholder(relay.read(".big.placeholder"))[1] == ["bob"]
    # read again: what did not fit is fetched again, and reads right
    with open(bob.p("big"), "rb") as f:
        assert f.read() == data


@pytest.fixture
def small_cache_bob(tmp_path):
    """The cache folder of client bob on a 3 MiB tmpfs."""
    with tmpfs(tmp_path / "cache-bob", "3m") as d:
        yield d


def test_reads_go_on_when_the_cache_disk_is_full(relay, mount,
                                                 small_cache_bob):
    data = os.urandom(12 * 1024 * 1024)
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    with open(alice.p("small"), "wb") as f:
        f.write(b"small\n")
    bob = mount("bob", "block_size=1M", "cache_size=64M", "pullers=2")
    # the lock journal may not fit either: said, and the reads go on
    bob.allow("cache: journal")
    # blocks that do not fit push older ones out
    with open(bob.p("small"), "rb") as f:
        assert f.read() == b"small\n"
    # and when nothing can be evicted (the disk is full of other things),
    # the reads go past the cache
    with open(small_cache_bob / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC
    with open(bob.p("big"), "rb") as f:
        assert f.read() == data
    # with room again, the cache takes blocks again
    os.unlink(small_cache_bob / "filler")
    with open(bob.p("big"), "rb") as f:
        assert f.read() == data
    assert bob.unmount() == 0
    assert "reads that do not fit go past the cache" in bob.text()
