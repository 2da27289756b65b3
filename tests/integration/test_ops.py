"""Everyday file operations through a real mount, each checked against
the relay folder afterwards (DESIGN.md, Operations)."""

import errno
import os
import signal
import stat
import subprocess

import pytest

from helpers import placeholder, push, run, sha512


def test_rm_removes_content_and_placeholder(relay, mount):
    alice = mount("alice")
    open(alice.p("gone.txt"), "w").write("bye\n")
    assert relay.exists(".gone.txt.placeholder")
    os.unlink(alice.p("gone.txt"))
    assert relay.names() == []
    assert os.listdir(alice.path) == []
    with pytest.raises(FileNotFoundError):
        os.unlink(alice.p("gone.txt"))


def test_rm_removes_message_files(relay, mount):
    # PROTOCOL.md, Delete: "delete .x.placeholder and any .x.*message"
    if relay.kind == "nginx":
        pytest.skip("nginx's listings hide dot-files, so message files "
                    "are never seen (README, WebDAV servers)")
    alice = mount("alice")
    open(alice.p("m.txt"), "w").write("m\n")
    relay.write(".m.txt.1a.message", b"evicted once")
    relay.write(".m.txt.message", b"note")
    relay.write(".other.message", b"not ours")
    assert sorted(os.listdir(alice.path)) == ["m.txt"]
    os.unlink(alice.p("m.txt"))
    assert relay.names() == [".other.message"]


def test_mv_and_mv_over_existing(relay, mount):
    alice = mount("alice")
    open(alice.p("a.txt"), "w").write("A\n")
    open(alice.p("b.txt"), "w").write("B\n")
    run("mv", alice.p("a.txt"), alice.p("c.txt"))
    assert relay.names() == [".b.txt.placeholder", ".c.txt.placeholder",
                             "b.txt", "c.txt"]
    run("mv", alice.p("c.txt"), alice.p("b.txt"))
    assert relay.names() == [".b.txt.placeholder", "b.txt"]
    assert relay.read("b.txt") == b"A\n"
    assert placeholder(relay.read(".b.txt.placeholder"))[0]["checksum"] == \
        sha512(b"A\n")
    assert open(alice.p("b.txt")).read() == "A\n"
    alice.settle()
    assert relay.locks() == []


def test_directories(relay, mount):
    alice = mount("alice")
    run("mkdir", "-p", alice.p("a", "b"))
    assert os.path.isdir(relay.path("a", "b"))
    open(alice.p("a", "b", "f.txt"), "w").write("deep\n")
    assert relay.exists("a", "b", "f.txt")
    with pytest.raises(OSError) as e:
        os.rmdir(alice.p("a", "b"))
    assert e.value.errno == errno.ENOTEMPTY
    bob = mount("bob")
    assert open(bob.p("a", "b", "f.txt")).read() == "deep\n"
    bob.settle()
    # only the placeholder is left: the folder looks empty and can go
    assert relay.names("a/b") == [".f.txt.placeholder"]
    os.rmdir(bob.p("a", "b"))
    assert relay.names("a") == []
    run("mv", bob.p("a"), bob.p("z"))
    assert relay.names() == ["z"]


def test_touch_truncate_and_times(relay, mount):
    alice = mount("alice")
    run("touch", alice.p("empty"))
    assert relay.read("empty") == b""
    assert relay.exists(".empty.placeholder")
    open(alice.p("t.txt"), "w").write("0123456789")
    os.truncate(alice.p("t.txt"), 4)
    assert relay.read("t.txt") == b"0123"
    assert os.stat(alice.p("t.txt")).st_size == 4
    os.truncate(alice.p("t.txt"), 0)
    assert relay.read("t.txt") == b""
    os.utime(alice.p("t.txt"), (1500000000, 1500000000))
    meta, _ = placeholder(relay.read(".t.txt.placeholder"))
    assert meta["timestamp"] == "1500000000"
    assert os.stat(alice.p("t.txt")).st_mtime == 1500000000
    assert relay.locks() == []


def test_copy_tree_with_odd_names(relay, mount, tmp_path):
    src = tmp_path / "tree"
    names = ["with space.txt", "ünïcødé ✓.txt", "100% sure.txt",
             "a#b?c&d+e.txt", "'quoted\".txt", ".dotfile"]
    if relay.kind == "nginx":  # its listings hide dot-files (README)
        names.remove(".dotfile")
    (src / "sub dir" / "deeper").mkdir(parents=True)
    for i, n in enumerate(names):
        (src / n).write_text("file %d\n" % i)
        (src / "sub dir" / "deeper" / n).write_bytes(os.urandom(1000 + i))
    alice = mount("alice")
    run("cp", "-r", str(src), alice.p("tree"))
    r = run("diff", "-r", str(src), alice.p("tree"), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    for n in names:
        assert relay.exists("tree", n)
        assert relay.exists("tree", "." + n + ".placeholder")
    bob = mount("bob")
    r = run("diff", "-r", str(src), bob.p("tree"), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(relay.names("tree/sub dir/deeper")) == sorted(
        "." + n + ".placeholder" for n in names)


@pytest.mark.parametrize("name", [".x.lock", ".x.placeholder",
                                  ".x.message", ".x.1.message", ".x.mutex"])
def test_special_names_are_refused(relay, mount, name):
    alice = mount("alice")
    for make in (lambda p: open(p, "w"), os.mkdir):
        with pytest.raises(OSError) as e:
            make(alice.p(name))
        assert e.value.errno == errno.EINVAL
    open(alice.p("ok"), "w").write("x")
    with pytest.raises(OSError) as e:
        os.rename(alice.p("ok"), alice.p(name))
    assert e.value.errno == errno.EINVAL
    alice.settle()
    assert sorted(relay.names()) == [".ok.placeholder", "ok"]


def test_links_are_refused_and_modes_accepted(relay, mount):
    alice = mount("alice")
    open(alice.p("f"), "w").write("x")
    for call in (lambda: os.symlink("f", alice.p("s")),
                 lambda: os.link(alice.p("f"), alice.p("h")),
                 lambda: os.mkfifo(alice.p("fifo")),
                 lambda: os.mknod(alice.p("dev"), 0o600 | stat.S_IFCHR,
                                  os.makedev(1, 3))):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.EPERM
    os.chmod(alice.p("f"), 0o600)
    assert os.stat(alice.p("f")).st_mode & 0o777 == 0o644


def test_statfs_and_xattrs(relay, mount):
    alice = mount("alice", "block_size=1M")
    st = os.statvfs(alice.path)
    assert st.f_bsize == 1024 * 1024
    assert st.f_blocks > 0
    open(alice.p("f"), "w").write("hello\n")
    r = run("getfattr", "-d", alice.p("f"))
    assert 'user.relay.pusher="alice"' in r.stdout
    assert 'user.relay.state="ready"' in r.stdout
    assert "user.relay.checksum=" in r.stdout
    stats = os.getxattr(alice.path, "user.relay.stats").decode()
    assert "put=" in stats and "bytes_up=" in stats
    with pytest.raises(OSError):
        os.setxattr(alice.p("f"), "user.relay.state", b"x")


def test_write_in_place_and_append(relay, mount):
    alice = mount("alice")
    with open(alice.p("log"), "w") as f:
        f.write("one\n")
    with open(alice.p("log"), "a") as f:
        f.write("two\n")
    assert relay.read("log") == b"one\ntwo\n"
    with open(alice.p("log"), "r+") as f:
        f.seek(0)
        f.write("ONE")
    assert relay.read("log") == b"ONE\ntwo\n"
    meta, _ = placeholder(relay.read(".log.placeholder"))
    assert meta["checksum"] == sha512(b"ONE\ntwo\n")
    alice.settle()
    assert relay.locks() == []


def test_unmount_leaves_no_process_and_no_lock(relay, mount):
    alice = mount("alice")
    open(alice.p("f"), "w").write("x" * 4000000)
    bob = mount("bob", "block_size=64K")
    with open(bob.p("f"), "rb") as f:
        f.read(10)
        assert len(relay.locks()) == 1
    bob.settle()  # the lock goes after the close
    assert relay.locks() == []
    assert bob.unmount() == 0
    assert alice.unmount() == 0
    assert subprocess.run(["pgrep", "-f", bob.path]).returncode == 1
    assert relay.locks() == []


def fuse_connection(path):
    """The fusectl folder of the mount at path (mounting fusectl if needed)."""
    ctl = "/sys/fs/fuse/connections"
    if not os.listdir(ctl):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", ctl], check=False)
    return os.path.join(ctl, str(os.minor(os.stat(path).st_dev)))


def test_aborted_connection_closes_what_was_open(relay, mount):
    # the kernel drops the release(2) of files still open when the
    # connection ends: relayfs closes them itself, freeing their locks
    alice = mount("alice")
    open(alice.p("f"), "w").write("x" * 4000000)
    bob = mount("bob", "block_size=64K")
    ctl = fuse_connection(bob.path)
    if not os.path.exists(os.path.join(ctl, "abort")):
        pytest.skip("fusectl is not available here")
    f = open(bob.p("f"), "rb")
    f.read(10)
    assert len(relay.locks(settle=False)) == 1
    with open(os.path.join(ctl, "abort"), "w") as a:
        a.write("1")
    assert bob.proc.wait(timeout=30) == 0
    with pytest.raises(OSError):
        f.close()  # ENOTCONN: nobody to tell any more
    subprocess.run(["fusermount3", "-uz", bob.path], check=False)
    assert relay.locks() == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_by_signal_is_clean(relay, mount, sig):
    # systemctl stop, Ctrl-C: unmounted, exit 0, nothing left locked
    alice = mount("alice")
    open(alice.p("f"), "w").write("x" * 4000000)
    bob = mount("bob", "block_size=64K")
    f = open(bob.p("f"), "rb")
    f.read(10)
    assert len(relay.locks(settle=False)) == 1
    bob.proc.send_signal(sig)  # while the file is still open
    assert bob.proc.wait(timeout=30) == 0
    assert not os.path.ismount(bob.path)
    assert relay.locks() == []
    with pytest.raises(OSError):
        f.read()
    with pytest.raises(OSError):
        f.close()


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
