"""Regressions found by review: each reproduces a way a real program used
the mount that once lost data, crashed relayfs or left a lock behind."""

import errno
import os
import time

import pytest

from helpers import placeholder, push


def test_open_for_update_without_writing(relay, mount):
    alice = mount("alice")
    push(alice, "f", "hi\n")
    bob = mount("bob")
    before = relay.read(".f.placeholder")
    open(bob.p("f"), "r+b").close()
    assert relay.read(".f.placeholder") == before
    assert relay.read("f") == b"hi\n"
    assert bob.proc.poll() is None


def test_child_closing_inherited_descriptor_pushes_nothing(relay, mount):
    alice = mount("alice")
    fd = os.open(alice.p("p"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"partial ")
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # closes its copy of fd
    os.waitpid(pid, 0)
    assert not relay.exists("p")
    os.write(fd, b"rest")
    os.close(fd)
    assert relay.read("p") == b"partial rest"


def test_unlink_while_open_then_recreate(relay, mount):
    alice = mount("alice")
    f = open(alice.p("u"), "w")
    f.write("OLDDATA-OLDDATA")
    f.flush()
    os.unlink(alice.p("u"))
    assert not os.path.exists(alice.p("u"))
    fd = os.open(alice.p("u"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, b"new")
    os.close(fd)
    f.write("more")
    f.close()
    time.sleep(0.2)
    assert relay.read("u") == b"new"


def test_directory_rename_carries_open_file(relay, mount):
    alice = mount("alice")
    os.mkdir(alice.p("d"))
    f = open(alice.p("d", "f"), "w")
    f.write("part1 ")
    f.flush()
    os.rename(alice.p("d"), alice.p("e"))
    f.write("part2")
    f.close()
    assert relay.read("e/f") == b"part1 part2"
    assert not relay.exists("d")


def test_control_characters_refused(relay, mount):
    alice = mount("alice")
    with pytest.raises(OSError) as e:
        open(alice.p("a\nb"), "w")
    assert e.value.errno == errno.EINVAL
    assert relay.names() == []


def test_append_sets_mtime(relay, mount):
    alice = mount("alice")
    push(alice, "m", "one\n")
    os.utime(alice.p("m"), (978307200, 978307200))
    with open(alice.p("m"), "a") as f:
        f.write("two\n")
    assert os.stat(alice.p("m")).st_mtime > 978307200
    meta, _ = placeholder(relay.read(".m.placeholder"))
    assert int(meta["timestamp"]) > 978307200


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


def test_content_removed_while_reading(relay, mount):
    alice = mount("alice")
    push(alice, "f", "x" * 3000000)
    bob = mount("bob", "block_size=64K")
    carol = mount("carol", "block_size=64K")
    f = open(bob.p("f"), "rb")
    try:
        with open(carol.p("f"), "rb") as g:
            assert g.read() == b"x" * 3000000
        assert not relay.exists("f")
        with pytest.raises(OSError) as e:
            f.read()
        assert e.value.errno == errno.ESTALE
    finally:
        f.close()
    assert relay.locks() == []


def test_pushed_again_after_a_pull(relay, mount):
    alice = mount("alice")
    push(alice, "f", "v1\n")
    bob = mount("bob")
    assert open(bob.p("f")).read() == "v1\n"
    assert not relay.exists("f")
    push(alice, "f", "version2\n")
    os.utime(alice.p("f"), (1600000000, 1600000000))
    assert bob.xattr("f", "pullers") == ""
    assert bob.xattr("f", "timestamp") == "1600000000"
    assert open(bob.p("f")).read() == "version2\n"
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
    assert relay.locks() == []
