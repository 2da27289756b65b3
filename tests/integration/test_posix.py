"""POSIX where programs rely on it: open flags, files unlinked while open,
one push per written file, and the errors rename, unlink and rmdir
promise (DESIGN.md, Operations)."""

import errno
import os
import subprocess
import time

import pytest

from conftest import Mount
from helpers import push


def request_counts(m):
    stats = os.getxattr(m.path, "user.relay.stats").decode().split()
    return dict((k, int(v)) for k, v in (kv.split("=") for kv in stats)
                if v.isdigit())


def uploads(m):
    """Upload requests so far: content, placeholders and locks."""
    c = request_counts(m)
    return c.get("put", 0) + c.get("create", 0)


def test_open_creat_rdonly_creates_the_file(relay, mount):
    alice = mount("alice")
    fd = os.open(alice.p("plain"), os.O_CREAT | os.O_RDONLY, 0o644)
    assert os.fstat(fd).st_size == 0
    os.close(fd)
    fd = os.open(alice.p("excl"), os.O_CREAT | os.O_EXCL | os.O_RDONLY)
    os.close(fd)
    with pytest.raises(FileExistsError):
        os.open(alice.p("excl"), os.O_CREAT | os.O_EXCL | os.O_RDONLY)
    assert sorted(os.listdir(alice.path)) == ["excl", "plain"]
    subprocess.run(["flock", alice.p("lockfile"), "true"], check=True)
    assert alice.unmount() == 0
    for name in ("plain", "excl", "lockfile"):
        assert relay.read(name) == b""
        assert relay.exists("." + name + ".placeholder")


def test_shell_redirection_pushes_once(relay, mount):
    alice = mount("alice")
    before = uploads(alice)
    with open(alice.p("one"), "w") as f:
        f.write("hi\n")
    one_push = uploads(alice) - before
    assert one_push > 0
    before = uploads(alice)
    subprocess.run(["bash", "-c", "echo hi > '%s'" % alice.p("redir")],
                   check=True)
    assert uploads(alice) - before == one_push
    subprocess.run(["bash", "-c", "{ echo a; echo b; } > '%s'" %
                    alice.p("group")], check=True)
    assert uploads(alice) - before == 2 * one_push
    assert relay.read("redir") == b"hi\n"
    assert relay.read("group") == b"a\nb\n"


def test_unlinked_open_file_stays_usable_and_is_never_pushed(relay, mount):
    alice = mount("alice")
    fd = os.open(alice.p("tmp"), os.O_CREAT | os.O_RDWR)
    os.write(fd, b"hello")
    os.unlink(alice.p("tmp"))
    assert os.listdir(alice.path) == []
    assert os.fstat(fd).st_size == 5
    os.write(fd, b" world")
    assert os.pread(fd, 64, 0) == b"hello world"
    assert os.fstat(fd).st_size == 11
    os.close(fd)
    assert alice.unmount() == 0
    assert relay.names() == []


def test_unlinked_file_open_for_reading_reads_to_its_end(relay, mount):
    data = os.urandom(3 * 1024 * 1024 + 17)
    alice = mount("alice", "block_size=1M")
    with open(alice.p("big"), "wb") as f:
        f.write(data)
    bob = mount("bob", "block_size=1M")
    fd = os.open(bob.p("big"), os.O_RDONLY)
    assert os.read(fd, 100) == data[:100]
    os.unlink(bob.p("big"))
    assert os.listdir(bob.path) == []
    assert os.fstat(fd).st_size == len(data)
    assert os.pread(fd, len(data), 0) == data
    os.close(fd)
    assert bob.unmount() == 0
    assert not relay.exists("big")
    assert relay.locks() == []


def test_errors_of_rename_unlink_and_rmdir(relay, mount):
    alice = mount("alice")
    os.mkdir(alice.p("d"))
    with open(alice.p("d", "f"), "w") as f:
        f.write("x")
    with open(alice.p("g"), "w") as f:
        f.write("g")
    cases = [
        (lambda: os.rmdir(alice.p("d")), errno.ENOTEMPTY),
        (lambda: os.rmdir(alice.p("g")), errno.ENOTDIR),
        (lambda: os.unlink(alice.p("d")), errno.EISDIR),
        (lambda: os.unlink(alice.p("none")), errno.ENOENT),
        (lambda: os.rename(alice.p("g"), alice.p("d")), errno.EISDIR),
        (lambda: os.rename(alice.p("d"), alice.p("g")), errno.ENOTDIR),
        (lambda: os.rename(alice.p("none"), alice.p("x")), errno.ENOENT),
        (lambda: open(alice.p("n" * 300), "w"), errno.ENAMETOOLONG),
        (lambda: open(alice.p("g", "x"), "w"), errno.ENOTDIR),
    ]
    for call, want in cases:
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == want, (e.value, want)
    assert sorted(relay.names()) == [".g.placeholder", "d", "g"]


def test_rename_onto_a_file_not_pushed_yet_wins(relay, mount):
    # as on a local filesystem: the rename replaces y, and what was being
    # written to the old y is never pushed over it
    alice = mount("alice")
    with open(alice.p("x"), "w") as f:
        f.write("from x\n")
    old_y = open(alice.p("y"), "w")
    old_y.write("old y\n")
    old_y.flush()
    os.rename(alice.p("x"), alice.p("y"))
    old_y.write("more\n")
    old_y.close()
    with open(alice.p("y")) as f:
        assert f.read() == "from x\n"
    assert alice.unmount() == 0
    assert relay.read("y") == b"from x\n"
    assert sorted(relay.names()) == [".y.placeholder", "y"]


def test_rename_onto_a_file_whose_push_is_pending_wins(relay, tmp_path):
    # y's push failed and waits for a retry; `mv x y` replaces it: the
    # retry, and the next mount, never push the old y over x's content
    alice = Mount(relay, "alice", str(tmp_path), ["lock_wait=0"],
                  env_extra={"RELAYFS_RETRY_SECONDS": "3600"})
    try:
        with open(alice.p("x"), "w") as f:
            f.write("from x\n")
        relay.write(".y.lock", "lock%1.0\nowner: zed\nmode: w")
        with pytest.raises(OSError) as e:
            with open(alice.p("y"), "w") as f:
                f.write("old y\n")
        assert e.value.errno == errno.EBUSY
        # the release after the close tries once more: wait for it
        deadline = time.monotonic() + 10
        while alice.text().count("push of y failed") < 2:
            assert time.monotonic() < deadline, alice.text()
            time.sleep(0.02)
        os.unlink(relay.path(".y.lock"))
        os.rename(alice.p("x"), alice.p("y"))
    finally:
        assert alice.unmount() == 0
    assert "y replaced by the rename of x" in alice.text()
    again = Mount(relay, "alice", str(tmp_path), [])
    assert again.unmount() == 0
    assert relay.read("y") == b"from x\n"
    assert sorted(relay.names()) == [".y.placeholder", "y"]


def test_open_flags_truncate_times_and_directory_renames(relay, mount):
    alice = mount("alice")
    os.mkdir(alice.p("a"))
    os.mkdir(alice.p("b"))
    with open(alice.p("a", "f"), "w") as f:
        f.write("x")
    os.mkdir(alice.p("c"))
    os.mkdir(alice.p("e"))
    with open(alice.p("e", "g"), "w") as f:
        f.write("g")
    os.rename(alice.p("a"), alice.p("b"))     # onto an empty folder
    assert sorted(relay.names()) == ["b", "c", "e"]
    assert relay.read("b", "f") == b"x"
    for call, want in [
            (lambda: os.rename(alice.p("c"), alice.p("e")), errno.ENOTEMPTY),
            (lambda: os.rename(alice.p("e"), alice.p("e", "sub")),
             errno.EINVAL),
            (lambda: os.open(alice.p("e", "g"),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY),
             errno.EEXIST),
            (lambda: os.mkdir(alice.p("e")), errno.EEXIST),
            (lambda: os.rmdir(alice.p("zz")), errno.ENOENT)]:
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == want, (e.value, want)
    fd = os.open(alice.p("e", "g"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"h")
    os.close(fd)
    assert relay.read("e", "g") == b"gh"
    os.truncate(alice.p("e", "g"), 1)
    assert relay.read("e", "g") == b"g"
    os.utime(alice.p("e", "g"), (1000000000, 1000000000))
    assert os.stat(alice.p("e", "g")).st_mtime == 1000000000
    assert os.stat(relay.path("e", "g")).st_size == 1


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
    assert alice.unmount() == 0   # every release done
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
