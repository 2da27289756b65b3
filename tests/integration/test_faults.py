"""Faults through a real mount of a real WebDAV server: the server gone in
the middle of work. Nothing hangs for good, every error is an errno, and
nothing written through the mount is lost."""

import errno
import os
import threading
import time

import pytest

from conftest import Mount, Relay
from helpers import backends, bytes_up, placeholder, push, tmpfs, wait_for


def push_fails_and_is_kept(mount, name, data):
    """Write name through mount while the server is out: close fails with
    EIO within 30 s, and the staged copy stays readable through the mount."""
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        push(mount, name, data)
    assert e.value.errno in (errno.EIO, errno.ETIMEDOUT)
    assert time.monotonic() - start < 30
    with open(mount.p(name)) as f:
        assert f.read() == data


def assert_lands(relay, name, data, pusher):
    """Once the server is back, the kept copy is pushed, no lock left."""
    assert wait_for(lambda: relay.exists(name) and not relay.locks(), 30)
    assert relay.read(name) == data.encode()
    assert placeholder(relay.read("." + name + ".placeholder"))[0][
        "pusher"] == pusher


@backends("webdav")
def test_server_down_during_push_then_back(relay, mount):
    alice = mount("alice")
    alice.allow("webdav:")
    alice.allow("push of f.txt failed")
    os.listdir(alice.path)
    relay.server.pause()
    push_fails_and_is_kept(alice, "f.txt",
                           "written while the server was down\n")
    assert not relay.exists("f.txt")
    relay.server.resume()
    assert_lands(relay, "f.txt", "written while the server was down\n",
                 "alice")


@backends("webdav")
def test_server_down_during_pull_then_back(relay, mount):
    alice = mount("alice")
    push(alice, "g.bin", "x" * 2000000)
    bob = mount("bob", "block_size=64K")
    bob.allow("webdav:")
    os.stat(bob.p("g.bin"))
    relay.server.pause()
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        with open(bob.p("g.bin"), "rb") as f:
            f.read()
    assert e.value.errno in (errno.EIO, errno.ETIMEDOUT)
    assert time.monotonic() - start < 30
    assert placeholder(relay.read(".g.bin.placeholder"))[1] == []
    relay.server.resume()
    with open(bob.p("g.bin"), "rb") as f:
        assert f.read() == b"x" * 2000000
    bob.settle()
    assert placeholder(relay.read(".g.bin.placeholder"))[1] == ["bob"]
    assert wait_for(lambda: not relay.locks(), 10)


@backends("webdav")
def test_hung_server_during_push_then_back(relay, mount):
    # the server accepts connections and answers nothing: close fails
    # after `timeout`, the copy is kept, and once the server goes on (with
    # the lock our unanswered request made) the push lands, no lock left
    alice = mount("alice", "timeout=2")
    alice.allow("webdav:")
    alice.allow("push of f.txt failed")
    alice.allow("relay:")
    os.listdir(alice.path)
    relay.server.freeze()
    try:
        push_fails_and_is_kept(alice, "f.txt",
                               "written while the server hung\n")
        assert "f.txt" in os.listdir(alice.path)
    finally:
        relay.server.thaw()
    assert_lands(relay, "f.txt", "written while the server hung\n", "alice")


@backends("webdav")
def test_hung_server_during_pull_then_back(relay, mount):
    # a read lock whose creation went unanswered must not stay behind to
    # block the pusher's next version for good
    alice = mount("alice")
    alice.allow("push of g.bin failed: Device or resource busy")
    push(alice, "g.bin", "x" * 200000)
    bob = mount("bob", "timeout=2")
    bob.allow("webdav:")
    bob.allow("relay:")
    os.stat(bob.p("g.bin"))
    relay.server.freeze()
    try:
        start = time.monotonic()
        with pytest.raises(OSError) as e:
            with open(bob.p("g.bin"), "rb") as f:
                f.read()
        assert e.value.errno in (errno.EIO, errno.ETIMEDOUT)
        assert time.monotonic() - start < 30
    finally:
        relay.server.thaw()
    try:
        push(alice, "g.bin", "y" * 100)
    except OSError as e:
        # bob's unanswered lock request may land now: until bob removes
        # it, alice's copy waits (and is pushed again)
        assert e.errno == errno.EBUSY
    assert wait_for(lambda: relay.exists("g.bin") and not relay.locks() and
                    relay.read("g.bin") == b"y" * 100, 40), bob.text()
    with open(bob.p("g.bin"), "rb") as f:
        assert f.read() == b"y" * 100


@backends("webdav")
def test_a_hung_push_holds_up_nothing_else(relay, mount):
    # a close waiting for a server that does not answer holds its own file
    # only: listing the folder and other files go on meanwhile
    alice = mount("alice", "timeout=4", "dir_cache=60")
    alice.allow("webdav:")
    alice.allow("push of slow.txt failed")
    alice.allow("relay:")
    push(alice, "other.txt", "other\n")
    os.listdir(alice.path)
    f = open(alice.p("slow.txt"), "w")
    f.write("slow\n")
    relay.server.freeze()
    failed = []

    def close():
        try:
            f.close()
        except OSError as e:
            failed.append(e.errno)
    def mkcols():  # the push's first request, counted as it is sent
        stats = os.getxattr(alice.path, "user.relay.stats").decode()
        return int(stats.split("mkdir=")[1].split()[0])

    try:
        closer = threading.Thread(target=close)
        sent = mkcols()
        start = time.monotonic()
        closer.start()
        assert wait_for(lambda: mkcols() > sent, 3)
        names = sorted(os.listdir(alice.path))
        with open(alice.p("other.txt")) as other:
            assert other.read() == "other\n"
        listed = time.monotonic() - start
        closer.join(60)
        closed = time.monotonic() - start
    finally:
        relay.server.thaw()
    assert failed and failed[0] in (errno.EIO, errno.ETIMEDOUT)
    assert closed >= 3
    assert listed < 2.5 and names == ["other.txt", "slow.txt"]
    assert wait_for(lambda: relay.exists("slow.txt") and not relay.locks(),
                    40)


# the backends whose probe lets a push follow the writes (README)
STREAMING = ("webdav", "webdavs", "nginx", "lighttpd")


@pytest.mark.parametrize("size", [1000000, 12 * 1024 * 1024])
def test_crash_while_writing_pushes_nothing_half_written(relay, mount,
                                                        tmp_path, size):
    # a copy whose writer never closed it is no finished file: the next
    # mount keeps it aside (cache_dir/interrupted) and pushes nothing; a
    # large one's upload, begun while it was written, is cut off and
    # leaves the previous version
    alice = mount("alice")
    push(alice, "w.bin", "version 1\n")
    data = os.urandom(size)
    up = bytes_up(alice)
    f = open(alice.p("w.bin"), "wb")
    f.write(data)
    f.flush()
    if size > 8 * 1024 * 1024 and relay.kind in STREAMING:
        # killed once the upload is under way (killed while it takes its
        # lock, it leaves the lock's mutex, which only its staleness ends)
        assert wait_for(lambda: bytes_up(alice) > up + 8 * 1024 * 1024, 30)
    alice.kill()
    try:
        f.close()
    except OSError:
        pass
    again = mount("alice")
    for m in (alice, again):   # one log file for both
        m.allow("was being written when relayfs stopped")
    assert again.unmount() == 0
    assert relay.read("w.bin") == b"version 1\n"
    assert relay.locks() == []
    kept = tmp_path / "cache-alice" / "interrupted"
    assert [open(kept / n, "rb").read() for n in os.listdir(kept)] == [data]
    assert "w.bin was being written when relayfs stopped" in again.text()


def test_full_relay_push_kept_under_its_lock_until_pushed_again(tmp_path):
    # PROTOCOL.md, Repair: a push that failed half way keeps its lock; the
    # next mount pushes again under that very lock, never showing the new
    # placeholder beside the old content without one
    with tmpfs(tmp_path / "small", "2m") as root:
        relay = Relay("local", str(root), str(root))
        filler = root / "filler"
        with open(filler, "wb") as f:
            f.write(b"\0" * (1024 * 1024))
        os.rename(filler, root / ".filler")   # an ordinary hidden file
        alice = Mount(relay, "alice", str(tmp_path), [])
        alice.allow("push of big failed")
        alice.allow("local:")
        data = os.urandom(1536 * 1024)
        with pytest.raises(OSError) as e:
            with open(alice.p("big"), "wb") as f:
                f.write(data)
        assert e.value.errno in (errno.ENOSPC, errno.EDQUOT)
        assert alice.unmount() == 0
        assert relay.exists(".big.lock")          # kept, as the push failed
        assert relay.exists(".big.placeholder")   # the new one
        os.unlink(root / ".filler")
        again = Mount(relay, "alice", str(tmp_path), [])
        assert wait_for(lambda: relay.exists("big") and not relay.locks(),
                        15)
        assert again.unmount() == 0
        assert relay.read("big") == data
        text = again.text()
        assert "held again for its push" in text
        assert "releasing the lock of big" not in text
