"""-o writeback=SECONDS: close returns once the staged copy is safe on
disk, the push comes after SECONDS without writes, fsync still pushes at
once, a kill loses nothing, and unmount pushes what is still pending."""

import os
import subprocess

from conftest import BIN, Relay, Mount
from helpers import backends, tmpfs, wait_until


@backends("local", "webdav", "ftp", "sftp")
def test_writeback_close_leaves_the_push_for_later_and_unmount_does_it(
        relay, mount):
    alice = mount("alice", "writeback=3600")
    with open(alice.p("a.txt"), "w") as f:
        f.write("written back\n")
    assert alice.xattr("a.txt", "state") == "pending"
    assert not relay.exists("a.txt")
    assert relay.locks() == []   # no lock while the copy rests
    with open(alice.p("a.txt")) as f:   # this mount reads its own copy
        assert f.read() == "written back\n"
    assert alice.unmount() == 0
    assert relay.read("a.txt") == b"written back\n"
    assert relay.locks() == []
    assert "writeback: pushing a.txt before unmount" in alice.text()


@backends("local", "webdav")
def test_writeback_push_starts_once_the_file_has_rested(relay, mount):
    alice = mount("alice", "writeback=0.3", "transfers=2")
    for i in range(5):
        with open(alice.p("f%d.txt" % i), "w") as f:
            f.write("file %d\n" % i)
    wait_until(lambda: all(relay.exists("f%d.txt" % i) for i in range(5))
               and relay.locks() == [], "the pushes")
    for i in range(5):
        assert relay.read("f%d.txt" % i) == b"file %d\n" % i
        assert alice.xattr("f%d.txt" % i, "state") != "pending"


@backends("local", "webdav")
def test_writeback_fsync_pushes_at_once(relay, mount):
    alice = mount("alice", "writeback=3600")
    with open(alice.p("s.txt"), "w") as f:
        f.write("synced\n")
        f.flush()
        os.fsync(f.fileno())
        assert relay.read("s.txt") == b"synced\n"
    alice.settle()
    assert relay.locks() == []


@backends("local", "webdav")
def test_writeback_copy_survives_a_kill_and_the_next_mount_pushes_it(
        relay, mount):
    alice = mount("alice", "writeback=3600")
    data = os.urandom(300000)
    with open(alice.p("k.bin"), "wb") as f:
        f.write(data)
    alice.kill()
    assert not relay.exists("k.bin")
    again = mount("alice")
    wait_until(lambda: relay.exists("k.bin") and relay.locks() == [],
               "the next mount's push")
    assert relay.read("k.bin") == data
    assert "found k.bin staged by an earlier mount" in again.text()


def test_writeback_failed_push_stays_pending_with_its_error(tmp_path):
    with tmpfs(tmp_path / "small", "1m") as root:
        relay = Relay("local", str(root), str(root))
        alice = Mount(relay, "alice", str(tmp_path), ["writeback=1"])
        try:
            alice.allow("push of big.bin failed")
            # the placeholder, written beside the content, may find the
            # relay full too: its own failure is said as well
            alice.allow("put .big.bin.placeholder: No space left")
            with open(alice.p("big.bin"), "wb") as f:
                f.write(b"z" * (2 << 20))   # close does not fail
            wait_until(lambda: "push of big.bin failed" in alice.text(),
                       "the push to fail")
            assert alice.xattr("big.bin", "state") == "pending"
            shown = subprocess.run([BIN, "status", alice.path],
                                   capture_output=True, text=True).stdout
            assert "    big.bin  No space left on device; next try in " \
                in shown, shown
        finally:
            assert alice.unmount() == 0
        assert alice.unexpected_warnings() == []
        assert not os.path.exists(root / "big.bin") or \
            os.path.getsize(root / "big.bin") != 2 << 20
