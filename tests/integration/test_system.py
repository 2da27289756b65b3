"""relayfs as the system runs it: mount.fuse3 (what mount -t fuse.relayfs
and fstab call), systemd's notification socket, the journal (a real
systemd-journald), and `relayfs status`. The installed package is tried by
scripts/package.sh."""

import json
import os
import signal
import socket
import subprocess
import uuid

import pytest

from conftest import BIN
from helpers import run, tmpfs, wait_until

JOURNALD = "/lib/systemd/systemd-journald"
JOURNAL_SOCKET = "/run/systemd/journal/socket"


def env_for(tmp_path, **extra):
    return dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"),
                XDG_DATA_HOME=str(tmp_path / "data"),
                XDG_CACHE_HOME=str(tmp_path / "cache"),
                RELAYFS_RETRY_SECONDS="1", **extra)


def unmount(path):
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-u", path], check=False)
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-uz", path], check=False)


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "relay").mkdir()
    (tmp_path / "mnt").mkdir()
    yield tmp_path, str(tmp_path / "relay"), str(tmp_path / "mnt")
    unmount(str(tmp_path / "mnt"))


def relayfs_pids_on(mnt):
    out = run("pgrep", "-af", "relayfs", check=False).stdout
    return [line for line in out.splitlines() if mnt in line]


def test_mount_fuse3_mounts_with_fstab_words(dirs):
    """mount -t fuse.relayfs and an fstab line run mount.fuse3, which runs
    `relayfs RELAY MNT -o OPTIONS,dev,suid`: the words are dropped."""
    t, relay, mnt = dirs
    bindir = t / "bin"
    bindir.mkdir()
    os.symlink(os.path.abspath(BIN), bindir / "relayfs")
    env = env_for(t, PATH="%s:%s" % (bindir, os.environ["PATH"]))
    run("/sbin/mount.fuse3", relay, mnt, "-t", "fuse.relayfs", "-o",
        "rw,client=viamount,_netdev,noauto,nofail,x-systemd.automount",
        env=env, timeout=30)
    assert os.path.ismount(mnt)
    fs = run("findmnt", "-n", "-o", "FSTYPE,SOURCE", mnt).stdout.split()
    assert fs == ["fuse.relayfs", "relayfs:" + relay]
    with open(os.path.join(mnt, "a.txt"), "w") as f:
        f.write("through mount.fuse3")
    with open(os.path.join(relay, "a.txt")) as f:
        assert f.read() == "through mount.fuse3"
    run("umount", mnt)
    wait_until(lambda: not relayfs_pids_on(mnt), "relayfs to exit on umount")


class NotifySocket:
    """The socket systemd gives a Type=notify service (NOTIFY_SOCKET)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(20)

    def next(self):
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.splitlines())

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("stop", ["unmount", "sigterm"])
def test_systemd_hears_ready_once_mounted_and_stopping_at_the_end(dirs,
                                                                  stop):
    t, relay, mnt = dirs
    notify = NotifySocket(str(t / "notify"))
    proc = subprocess.Popen([BIN, "-f", "-o", "client=unit", relay, mnt],
                            env=env_for(t, NOTIFY_SOCKET=notify.path),
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        ready = notify.next()
        assert ready.get("READY") == "1", ready
        assert os.path.ismount(mnt), "READY before the mount was live"
        assert ready["STATUS"] == "serving %s on %s" % (relay, mnt)
        if stop == "unmount":
            run("fusermount3", "-u", mnt)
        else:
            proc.send_signal(signal.SIGTERM)
        stopping = notify.next()
        assert stopping.get("STOPPING") == "1", stopping
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
        assert not os.path.ismount(mnt)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()


@pytest.fixture
def journal():
    """A listening systemd-journald: the system's, or one started here
    (containers have no systemd) and stopped after the test."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.connect(JOURNAL_SOCKET)
        started = None
    except OSError:
        if not os.path.exists(JOURNALD):
            pytest.skip("no systemd-journald")
        started = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)

        def listening():
            try:
                probe.connect(JOURNAL_SOCKET)
                return True
            except OSError:
                return False
        wait_until(listening, "systemd-journald to listen")
    finally:
        probe.close()
    yield
    if started:
        started.terminate()
        started.wait(timeout=10)


def journal_entries(**match):
    args = ["%s=%s" % kv for kv in match.items()]
    out = run("journalctl", "--no-pager", "-o", "json", *args,
              check=False).stdout
    return [json.loads(line) for line in out.splitlines() if line]


def test_a_detached_mount_logs_to_the_journal_with_the_file_and_errno(
        dirs, journal):
    """Without -f the daemon has no terminal: a failed push is logged to
    the journal with its priority, the file and the errno as fields."""
    t, _, mnt = dirs
    client = "journal-" + uuid.uuid4().hex[:8]
    with tmpfs(t / "small", "256k") as relay:
        run(BIN, "-o", "client=" + client, str(relay), mnt,
            env=env_for(t), timeout=30)
        try:
            with pytest.raises(OSError) as err:
                with open(os.path.join(mnt, "big.bin"), "wb") as f:
                    f.write(b"x" * (1 << 20))
            assert err.value.errno in (28, 122), err.value

            def logged():
                return journal_entries(RELAYFS_CLIENT=client,
                                       RELAYFS_PATH="big.bin")
            wait_until(logged, "the push failure in the journal")
            entry = logged()[0]
            assert entry["PRIORITY"] == "4"
            assert entry["ERRNO"] in ("28", "122")
            assert entry["RELAYFS_RELAY"] == str(relay)
            assert "push of big.bin failed" in entry["MESSAGE"]
        finally:
            unmount(mnt)
            wait_until(lambda: not relayfs_pids_on(mnt), "relayfs to exit")


def status(*args, env=None):
    return run(BIN, "status", *args, env=env, timeout=30, check=False)


def test_status_shows_the_mount_a_pull_in_progress_and_a_pending_push(dirs):
    t, _, mnt = dirs
    with tmpfs(t / "small", "4m") as relay:
        with open(relay / "big.bin", "wb") as f:
            f.write(os.urandom(3 << 20))
        proc = subprocess.Popen(
            [BIN, "-f", "-o", "client=watcher,block_size=64K", str(relay),
             mnt], env=env_for(t), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: os.path.ismount(mnt), "the mount")
            with open(os.path.join(mnt, "big.bin"), "rb") as reader:
                reader.read(100)
                shown = status(mnt).stdout
                assert shown.startswith(mnt + "\n"), shown
                assert "  relay      %s\n" % relay in shown
                assert "  client     watcher\n" in shown
                assert " of 1.0 GiB\n" in shown
                assert "requests" in shown and "get " in shown
                assert "    pull big.bin  " in shown, shown
                assert " of 3.0 MiB" in shown, shown
            # 2 MiB more do not fit in the relay's 4 MiB
            with pytest.raises(OSError):
                with open(os.path.join(mnt, "new.bin"), "wb") as f:
                    f.write(b"y" * (2 << 20))
            shown = status().stdout     # every relayfs mount
            assert mnt + "\n" in shown, shown
            assert "    new.bin  No space left on device; next try in " \
                in shown, shown
        finally:
            unmount(mnt)
            proc.wait(timeout=30)


def test_status_of_a_folder_that_is_no_mount_says_so(tmp_path):
    res = status(str(tmp_path))
    assert res.returncode == 1
    assert res.stderr == "relayfs: %s: not a relayfs mount\n" % tmp_path
    res = status("-x")
    assert res.returncode == 2
    assert res.stderr == "usage: relayfs status [MOUNTPOINT]\n"
