"""Foreign locks through a real mount: hidden files, waiting readers that
give up with EBUSY, stale locks broken, pushes kept when refused."""

import errno
import os
import threading
import time

import pytest

from conftest import BIN
from helpers import backends, placeholder, push, run, wait_until

WRITE_LOCK = "lock%1.0\nowner: zed\nmode: w"
READ_LOCK = "lock%1.0\nowner: zed\nmode: r"


def test_foreign_write_lock_hides_file(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    relay.write(".f.txt.lock", WRITE_LOCK)
    bob = mount("bob")
    assert os.listdir(bob.path) == []
    assert not os.path.exists(bob.p("f.txt"))
    os.unlink(relay.path(".f.txt.lock"))
    assert os.listdir(bob.path) == ["f.txt"]


def test_unreadable_lock_counts_as_foreign(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    relay.write(".f.txt.lock", bytes(range(256)) * 4)
    bob = mount("bob")
    assert os.listdir(bob.path) == []


def test_foreign_read_lock_makes_read_wait_then_ebusy(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    relay.write(".f.txt.lock", READ_LOCK)
    before = relay.read(".f.txt.placeholder")
    bob = mount("bob", "lock_wait=2")
    assert os.listdir(bob.path) == ["f.txt"]
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        with open(bob.p("f.txt")) as f:
            f.read()
    assert e.value.errno == errno.EBUSY
    assert time.monotonic() - start >= 1.9
    assert relay.read(".f.txt.placeholder") == before
    assert relay.read(".f.txt.lock") == READ_LOCK.encode()
    assert relay.exists("f.txt")


def test_read_proceeds_when_foreign_lock_goes(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    relay.write(".f.txt.lock", READ_LOCK)
    bob = mount("bob", "lock_wait=10")
    threading.Timer(0.5, os.unlink, [relay.path(".f.txt.lock")]).start()
    with open(bob.p("f.txt")) as f:
        assert f.read() == "data\n"
    bob.settle()
    assert placeholder(relay.read(".f.txt.placeholder"))[1] == ["bob"]
    assert relay.locks() == []


def test_stale_lock_is_broken_with_warning(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    old = time.time() - 3600
    relay.write(".f.txt.lock", WRITE_LOCK, mtime=old)
    bob = mount("bob", "lock_timeout=60")
    bob.allow("breaking stale lock")
    assert os.listdir(bob.path) == ["f.txt"]
    with open(bob.p("f.txt")) as f:
        assert f.read() == "data\n"
    bob.settle()
    assert "breaking stale lock of f.txt held by zed" in bob.text()
    assert relay.locks() == []


def test_push_refused_by_foreign_lock_is_kept_and_retried(relay, mount):
    alice = mount("alice", "lock_wait=1")
    alice.allow("push of f.txt failed")
    relay.write(".f.txt.lock", WRITE_LOCK)
    f = open(alice.p("f.txt"), "w")
    f.write("precious\n")
    with pytest.raises(OSError) as e:
        f.close()
    assert e.value.errno == errno.EBUSY
    assert not relay.exists("f.txt")
    deadline = time.time() + 5  # release(2) reaches relayfs after close
    while time.time() < deadline and \
            alice.xattr("f.txt", "state") != "pending":
        time.sleep(0.05)
    assert alice.xattr("f.txt", "state") == "pending"
    with open(alice.p("f.txt")) as f:
        assert f.read() == "precious\n"
    os.unlink(relay.path(".f.txt.lock"))
    # the content and the placeholder land side by side under the lock:
    # the push is whole once its lock is gone
    wait_until(lambda: relay.exists("f.txt") and relay.locks() == [],
               "the retried push", timeout=15)
    assert relay.read("f.txt") == b"precious\n"
    assert placeholder(relay.read(".f.txt.placeholder"))[0]["pusher"] == \
        "alice"
    deadline = time.time() + 5
    while time.time() < deadline and relay.locks():
        time.sleep(0.1)
    assert relay.locks() == []


def test_staged_copy_survives_remount(relay, mount, tmp_path):
    alice = mount("alice", "lock_wait=0")
    alice.allow("push of f.txt failed")
    relay.write(".f.txt.lock", WRITE_LOCK)
    try:
        with open(alice.p("f.txt"), "w") as f:
            f.write("kept\n")
    except OSError as e:
        assert e.errno == errno.EBUSY
    assert alice.unmount() == 0
    os.unlink(relay.path(".f.txt.lock"))
    again = mount("alice")
    deadline = time.time() + 15
    while time.time() < deadline and not relay.exists("f.txt"):
        time.sleep(0.2)
    assert relay.read("f.txt") == b"kept\n"
    assert "found f.txt staged by an earlier mount" in again.text()


def kill_while_reading(m, name, ready):
    """Kill mount m while a reader holds name open, its first bytes read,
    once ready() holds."""
    f = open(m.p(name), "rb")
    f.read(10)
    wait_until(ready, "the reader's lock")
    m.kill()
    try:
        f.close()
    except OSError:
        pass


def test_read_lock_left_by_a_crash_is_released_at_remount(relay, mount):
    alice = mount("alice")
    push(alice, "f.bin", "x" * 4000000)
    bob = mount("bob", "block_size=64K")
    kill_while_reading(bob, "f.bin", lambda: len(relay.locks()) == 1)
    assert relay.read(".f.bin.lock") == b"lock%1.0\nowner: bob\nmode: r"
    again = mount("bob", "block_size=64K")
    assert "releasing the lock of f.bin left by an earlier mount" in \
        again.text()
    assert relay.locks() == []
    with open(again.p("f.bin")) as f:
        assert f.read() == "x" * 4000000


def test_lock_and_mutex_left_by_a_crash_are_gone_soon_after_remount(
        relay, mount):
    # a crash before the mutex's drop (sent aside) was done leaves the
    # mutex beside the lock: the next mount breaks it once it has stood
    # unchanged a few seconds, not after the minute another client waits
    alice = mount("alice")
    push(alice, "f.bin", "x" * 100000)
    bob = mount("bob")
    kill_while_reading(bob, "f.bin",
                       lambda: not relay.exists(".f.bin.mutex"))
    os.mkdir(relay.path(".f.bin.mutex"))   # as if its drop never came
    relay.share(".f.bin.mutex")
    again = mount("bob")
    for m in (bob, again):   # one log file for both
        m.allow("breaking the mutex of f.bin, unchanged for 5 s")
    wait_until(lambda: relay.locks() == [] and
               not relay.exists(".f.bin.mutex"), "the repair", timeout=20)
    if relay.kind != "rclone":
        assert "breaking the mutex of f.bin" in again.text()
    # else the mutex is a WebDAV LOCK, which a crash leaves to expire on
    # the server: a leftover folder by its name is no mutex, and the
    # next LOCK takes it over and its drop deletes it, with no break
    carol = mount("carol", "lock_wait=0")
    with open(carol.p("f.bin")) as f:
        assert f.read() == "x" * 100000
    assert again.unmount() == 0


@backends("webdav")
def test_reader_close_leaves_registration_and_unlock_to_the_background(
        relay, mount):
    alice = mount("alice")
    push(alice, "f.bin", "x" * 100000)
    bob = mount("bob")
    f = open(bob.p("f.bin"), "rb")
    assert f.read() == b"x" * 100000
    assert relay.exists(".f.bin.lock")
    relay.server.freeze()
    try:
        f.close()  # returns with the relay silent: nothing waits for it
        assert relay.exists(".f.bin.lock")
        shown = run(BIN, "status", bob.path, timeout=30).stdout
        assert "  registering\n    f.bin  read, its pull not registered" \
            in shown, shown
    finally:
        relay.server.thaw()
    bob.settle()
    assert placeholder(relay.read(".f.bin.placeholder"))[1] == ["bob"]
    assert relay.locks() == []
    assert not relay.exists("f.bin")
    shown = run(BIN, "status", bob.path, timeout=30).stdout
    assert "  registering none\n" in shown, shown


@backends("webdav")
def test_registration_left_by_a_crash_is_done_at_remount(relay, mount):
    alice = mount("alice")
    push(alice, "f.bin", "x" * 100000)
    bob = mount("bob")
    f = open(bob.p("f.bin"), "rb")
    assert f.read() == b"x" * 100000
    relay.server.freeze()
    try:
        f.close()
        bob.kill()  # before the registration is answered
    finally:
        relay.server.thaw()
    assert relay.read(".f.bin.lock") == b"lock%1.0\nowner: bob\nmode: r"
    again = mount("bob")
    wait_until(lambda: relay.locks() == [] and not relay.exists("f.bin"),
               "the registration replayed")
    assert placeholder(relay.read(".f.bin.placeholder"))[1] == ["bob"]
    assert "registering the pull of f.bin left unregistered" in again.text()


def test_lock_follows_a_file_renamed_while_it_is_read(relay, mount):
    data = os.urandom(16 * 1024 * 1024)  # more than read-ahead fetches
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M")
    with open(bob.p("big"), "rb") as f:
        assert f.read(1000) == data[:1000]
        assert relay.exists(".big.lock")
        os.rename(bob.p("big"), bob.p("big2"))
        assert not relay.exists(".big.lock")
        assert relay.exists(".big2.lock")
        assert f.read() == data[1000:]
    assert bob.unmount() == 0
    assert relay.locks() == []
    assert placeholder(relay.read(".big2.placeholder"))[1] == ["bob"]


def test_locks_follow_a_folder_renamed_while_a_file_in_it_is_read(
        relay, mount):
    data = os.urandom(16 * 1024 * 1024)  # more than read-ahead fetches
    alice = mount("alice", "block_size=1M")
    os.makedirs(alice.p("d", "sub"))
    with open(alice.p("d", "sub", "f"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M")
    with open(bob.p("d", "sub", "f"), "rb") as f:
        assert f.read(1000) == data[:1000]
        # another client may not move the folder from under the reader
        with pytest.raises(OSError) as e:
            os.rename(alice.p("d"), alice.p("x"))
        assert e.value.errno == errno.EBUSY
        os.rename(bob.p("d"), bob.p("e"))
        assert relay.exists("e", "sub", ".f.lock")
        assert f.read() == data[1000:]
    assert bob.unmount() == 0
    assert relay.locks() == []
    assert placeholder(relay.read("e", "sub", ".f.placeholder"))[1] == [
        "bob"]
    os.rename(alice.p("e"), alice.p("x"))
    assert relay.names() == ["x"]


def test_rm_after_failed_push_leaves_no_lock(relay, mount):
    alice = mount("alice", "lock_wait=0")
    alice.allow("push of dd/q failed")
    alice.allow("placeholder")
    os.mkdir(alice.p("dd"))
    os.mkdir(relay.path("dd", ".q.placeholder"))  # makes the push fail
    with pytest.raises(OSError):
        push(alice, "dd/q", "x")
    os.unlink(alice.p("dd", "q"))
    if relay.exists("dd", ".q.placeholder"):  # WebDAV's DELETE took it
        os.rmdir(relay.path("dd", ".q.placeholder"))
    assert relay.locks() == []
    os.rmdir(alice.p("dd"))
    assert not relay.exists("dd")


@backends("webdav")
def test_bytes_fetched_beside_a_refused_lock_are_dropped(relay, mount):
    alice = mount("alice")
    push(alice, "f.txt", "data\n")
    relay.write(".f.txt.lock", READ_LOCK)
    bob = mount("bob", "lock_wait=0")
    assert os.listdir(bob.path) == ["f.txt"]
    srv = relay.server
    srv.clear_log()
    with pytest.raises(OSError) as e:
        with open(bob.p("f.txt")) as f:
            f.read()
    assert e.value.errno == errno.EBUSY
    # the content was asked for beside the lock, pinned to its version
    gets = [p for m, p, _ in srv.requests() if m == "GET"]
    assert any(p.endswith("/f.txt") for p in gets), gets
    os.unlink(relay.path(".f.txt.lock"))
    srv.clear_log()
    with open(bob.p("f.txt")) as f:
        assert f.read() == "data\n"
    # those bytes never reached the cache: fetched again, under the lock
    gets = [p for m, p, _ in srv.requests() if m == "GET"]
    assert sum(p.endswith("/f.txt") for p in gets) == 1, gets
    bob.settle()
    assert placeholder(relay.read(".f.txt.placeholder"))[1] == ["bob"]
    assert relay.locks() == []
