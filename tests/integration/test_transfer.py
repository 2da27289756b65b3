"""Pushes and pulls between clients through real mounts of one relay: what
the relay folder holds after each step (PROTOCOL.md, Push and Pull)."""

import errno
import os
import subprocess
import threading
import time

import pytest

from helpers import (backends, bytes_up, placeholder, push, run, sha512,
                     wait_for)


def specials(names):
    return [n for n in names if n.startswith(".") and
            n.endswith((".lock", ".placeholder", ".message"))]


def test_push_then_pull_removes_content(relay, mount, tmp_path):
    big = os.urandom(3 * 1024 * 1024)
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(big)
    (src / "note.txt").write_text("hello relay\n")
    os.utime(src / "big.bin", (1600000000, 1600000000))
    alice = mount("alice")
    run("cp", "-p", str(src / "big.bin"), str(src / "note.txt"), alice.path)

    assert specials(run("ls", "-a", alice.path).stdout.split()) == []
    assert sorted(os.listdir(alice.path)) == ["big.bin", "note.txt"]
    meta, pullers = placeholder(relay.read(".big.bin.placeholder"))
    assert meta["pusher"] == "alice"
    assert meta["timestamp"] == "1600000000"
    assert meta["checksum"] == sha512(big)
    assert pullers == []
    assert relay.read("big.bin") == big
    assert relay.locks() == []
    assert os.stat(alice.p("big.bin")).st_mtime == 1600000000

    bob = mount("bob")
    assert os.stat(bob.p("big.bin")).st_mtime == 1600000000
    r = run("cmp", str(src / "big.bin"), bob.p("big.bin"), check=False)
    assert r.returncode == 0, r.stderr + r.stdout
    bob.settle()
    meta, pullers = placeholder(relay.read(".big.bin.placeholder"))
    assert pullers == ["bob"]
    assert not relay.exists("big.bin")
    assert relay.exists(".big.bin.placeholder")
    assert relay.locks() == []
    assert "big.bin" not in os.listdir(bob.path)
    assert "big.bin" not in os.listdir(alice.path)
    assert "note.txt" in os.listdir(bob.path)


def test_two_pullers(relay, mount, tmp_path):
    data = os.urandom(200000)
    alice = mount("alice", "pullers=2")
    with open(alice.p("f.bin"), "wb") as f:
        f.write(data)
    bob = mount("bob", "pullers=2")
    carol = mount("carol", "pullers=2")

    with open(alice.p("f.bin"), "rb") as f:
        assert f.read() == data
    assert placeholder(relay.read(".f.bin.placeholder"))[1] == []

    with open(bob.p("f.bin"), "rb") as f:
        assert f.read() == data
    with open(bob.p("f.bin"), "rb") as f:
        assert f.read() == data
    bob.settle()
    assert placeholder(relay.read(".f.bin.placeholder"))[1] == ["bob"]
    assert relay.read("f.bin") == data
    assert "f.bin" in os.listdir(carol.path)
    assert alice.xattr("f.bin", "pullers") == "bob"

    with open(carol.p("f.bin"), "rb") as f:
        assert f.read() == data
    carol.settle()
    assert placeholder(relay.read(".f.bin.placeholder"))[1] == ["bob",
                                                                 "carol"]
    assert not relay.exists("f.bin")
    assert relay.locks() == []
    assert os.listdir(alice.path) == []


def test_partial_read_registers_nothing(relay, mount):
    data = os.urandom(5 * 1024 * 1024)
    relay_file = "large.bin"
    alice = mount("alice", "block_size=1M")
    with open(alice.p(relay_file), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M")
    out = subprocess.run(["head", "-c", "100", bob.p(relay_file)],
                         check=True, capture_output=True).stdout
    assert out == data[:100]
    bob.settle()
    assert placeholder(relay.read(".large.bin.placeholder"))[1] == []
    assert relay.exists(relay_file)
    assert relay.locks() == []
    stats = dict(kv.split("=") for kv in
                 os.getxattr(bob.path, "user.relay.stats").decode().split())
    assert int(stats["bytes_down"]) <= 2 * 1024 * 1024 + 4096
    assert bob.xattr(relay_file, "state") == "ready"


def test_own_file_reads_register_nothing(relay, mount):
    alice = mount("alice")
    with open(alice.p("mine.txt"), "w") as f:
        f.write("mine\n")
    with open(alice.p("mine.txt")) as f:
        assert f.read() == "mine\n"
    assert placeholder(relay.read(".mine.txt.placeholder"))[1] == []
    assert relay.exists("mine.txt")
    assert alice.xattr("mine.txt", "pusher") == "alice"
    assert alice.xattr("mine.txt", "checksum") == sha512(b"mine\n")


def test_corrupt_content_is_not_registered(relay, mount):
    alice = mount("alice")
    with open(alice.p("x.txt"), "w") as f:
        f.write("original\n")
    relay.write("x.txt", "tampered\n")
    bob = mount("bob")
    bob.allow("does not match")
    try:
        with open(bob.p("x.txt")) as f:
            f.read()
        raised = None
    except OSError as e:
        raised = e.errno
    assert raised == 5  # EIO
    bob.settle()
    assert placeholder(relay.read(".x.txt.placeholder"))[1] == []
    assert relay.exists("x.txt")
    assert relay.locks() == []


@backends("local")
def test_corrupt_multi_block_content_is_not_registered(relay, mount):
    data = os.urandom(3 * 1024 * 1024)
    alice = mount("alice")
    with open(alice.p("big.bin"), "wb") as f:
        f.write(data)
    # damage the middle of the content, keeping its size and times, so
    # that only the checksum can tell
    st = os.stat(relay.path("big.bin"))
    with open(relay.path("big.bin"), "r+b") as f:
        f.seek(2000000)
        f.write(b"damaged!")
    os.utime(relay.path("big.bin"), ns=(st.st_atime_ns, st.st_mtime_ns))
    bob = mount("bob", "block_size=64K")
    bob.allow("does not match")
    with pytest.raises(OSError) as e:
        with open(bob.p("big.bin"), "rb") as f:
            f.read()
    assert e.value.errno == 5  # EIO
    bob.settle()
    assert placeholder(relay.read(".big.bin.placeholder"))[1] == []
    assert relay.exists("big.bin")
    assert relay.locks() == []


def test_content_removed_while_reading(relay, mount):
    alice = mount("alice")
    push(alice, "f", "x" * 3000000)
    bob = mount("bob", "block_size=64K")
    carol = mount("carol", "block_size=64K")
    f = open(bob.p("f"), "rb")
    try:
        with open(carol.p("f"), "rb") as g:
            assert g.read() == b"x" * 3000000
        carol.settle()
        assert not relay.exists("f")
        with pytest.raises(OSError) as e:
            f.read()
        assert e.value.errno == errno.ESTALE
    finally:
        f.close()
    bob.settle()
    assert relay.locks() == []


def test_pushed_again_after_a_pull(relay, mount):
    alice = mount("alice")
    push(alice, "f", "v1\n")
    bob = mount("bob")
    assert open(bob.p("f")).read() == "v1\n"
    bob.settle()
    assert not relay.exists("f")
    push(alice, "f", "version2\n")
    os.utime(alice.p("f"), (1600000000, 1600000000))
    assert bob.xattr("f", "pullers") == ""
    assert bob.xattr("f", "timestamp") == "1600000000"
    assert open(bob.p("f")).read() == "version2\n"
    bob.settle()
    assert placeholder(relay.read(".f.placeholder"))[1] == ["bob"]
    assert not relay.exists("f")


def test_version_replaced_after_listing_is_not_mixed(relay, mount):
    alice = mount("alice")
    push(alice, "f", "a" * 300000)
    bob = mount("bob", "dir_cache=60", "block_size=64K")
    assert os.stat(bob.p("f")).st_size == 300000
    push(alice, "f", "b" * 400000)
    with pytest.raises(OSError) as e:
        with open(bob.p("f"), "rb") as f:
            f.read()
    assert e.value.errno == errno.ESTALE
    with open(bob.p("f"), "rb") as f:
        assert f.read() == b"b" * 400000
    bob.settle()
    assert relay.locks() == []


def test_one_connection_serves_readers_of_several_files_at_once(
        relay, mount):
    # with transfers=1, each reader's lock is taken beside the fetch that
    # waits for it, on a connection of its own: the fetch never holds the
    # only one while its lock waits for it
    alice = mount("alice")
    data = {"f%d" % i: os.urandom(200000 + i) for i in range(3)}
    for name, content in data.items():
        with open(alice.p(name), "wb") as f:
            f.write(content)
    bob = mount("bob", "transfers=1", "block_size=64K")
    got = {}

    def read(name):
        with open(bob.p(name), "rb") as f:
            got[name] = f.read()

    readers = [threading.Thread(target=read, args=(n,)) for n in data]
    for t in readers:
        t.start()
    for t in readers:
        t.join(60)
    assert not any(t.is_alive() for t in readers), "a reader hangs"
    assert got == data
    push(bob, "back.txt", "written with one connection\n")
    assert relay.read("back.txt") == b"written with one connection\n"
    assert relay.locks() == []
    assert bob.unmount() == 0


@backends("webdav")
def test_a_cold_sequential_read_takes_at_most_two_gets(relay, mount):
    """Requests cost money on a paid relay: once a reader is sequential,
    the rest of the file comes in one streaming GET (a window of a
    quarter of the cache), not one per block."""
    data = os.urandom(24 * 1024 * 1024)
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M", "pullers=2")
    relay.server.clear_log()
    with open(bob.p("big"), "rb") as f:
        assert f.read() == data
    gets = [p for m, p, s in relay.server.requests()
            if m == "GET" and p == "/dav/big"]
    # the first block's, then the stream's, claimed before the read of
    # the second block (the kernel's reads may come out of order); 3 when
    # a read of the second block came before the first fetch took the lock
    assert 1 <= len(gets) <= 3, gets
    assert bob.xattr("big", "pullers") == "bob"


@backends("webdav")
def test_a_reader_that_closes_early_stops_its_read_ahead(relay, mount):
    """The streaming read-ahead ends with the pull: closing after the
    first blocks leaves most of the file unfetched (a file large enough
    that the stream, as fast as loopback goes, is far from its end)."""
    data = os.urandom(128 * 1024 * 1024)
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M", "pullers=2", "cache_size=256M")
    with open(bob.p("big"), "rb") as f:
        assert f.read(3 * 1024 * 1024) == data[:3 * 1024 * 1024]
    time.sleep(1)
    stats = dict(kv.split("=") for kv in
                 os.getxattr(bob.path, "user.relay.stats").decode().split())
    assert int(stats["bytes_down"]) < 100 * 1024 * 1024, stats
    assert relay.locks() == []


MIB = 1024 * 1024


@backends("webdav", "webdavs", "nginx")
def test_a_large_file_written_in_order_goes_out_while_it_is_written(
        relay, mount):
    """Past 8 MiB written in order, the push starts under its write lock
    and follows the writes in one PUT; the close sends the placeholder."""
    data = os.urandom(24 * MIB)
    alice = mount("alice")
    relay.server.clear_log()
    with open(alice.p("big"), "wb") as f:
        for i in range(24):
            f.write(data[i * MIB:(i + 1) * MIB])
        f.flush()
        assert wait_for(lambda: bytes_up(alice) >= 20 * MIB, 30)
        assert [os.path.basename(p) for p in
                relay.locks(settle=False)] == [".big.lock"]
        # the server keeps what it gets aside until the upload ends
        assert not os.path.exists(relay.path("big"))
    assert relay.read("big") == data
    meta, pullers = placeholder(relay.read(".big.placeholder"))
    assert meta["checksum"] == sha512(data) and pullers == []
    assert relay.locks() == []
    puts = [p for m, p, s in relay.server.requests() if m == "PUT"]
    assert puts.count("/dav/big") == 1, puts


def test_a_writer_that_goes_back_has_its_file_pushed_whole_at_close(
        relay, mount):
    data = bytearray(os.urandom(20 * MIB))
    alice = mount("alice")
    with open(alice.p("big"), "wb") as f:
        f.write(data[:12 * MIB])
        f.flush()
        f.seek(100)
        f.write(b"X" * 10)
        data[100:110] = b"X" * 10
        f.seek(12 * MIB)
        f.write(data[12 * MIB:])
    assert relay.read("big") == data
    meta, _ = placeholder(relay.read(".big.placeholder"))
    assert meta["checksum"] == sha512(bytes(data))
    assert relay.locks() == []


def test_a_push_cut_off_just_before_close_still_lands_at_close(
        relay, mount):
    """A truncate cuts the upload off; the close right after pushes the
    file whole, taking the lock the cut upload is still giving back."""
    alice = mount("alice")
    for n in range(3):
        data = os.urandom(12 * MIB)
        with open(alice.p("big"), "wb") as f:
            f.write(data)
            f.flush()
            f.truncate(10 * MIB + n)
        assert relay.read("big") == data[:10 * MIB + n]
        assert relay.locks() == []
