"""The cache's disk full while a file is written through the mount: the
writer hears ENOSPC, nothing half-written reaches the relay, the failed
copy goes, and the mount goes on writing and reading."""

import errno
import os
import subprocess

import pytest

from conftest import Mount


@pytest.fixture
def small_cache(tmp_path):
    """The cache folder of client alice on a 6 MiB tmpfs."""
    d = tmp_path / "cache-alice"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs",
                    str(d)], check=True)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def test_write_that_overflows_the_cache_disk_is_never_pushed(
        relay, tmp_path, small_cache):
    alice = Mount(relay, "alice", str(tmp_path), [])
    try:
        with open(alice.p("big"), "wb") as f:
            f.write(b"version 1\n")
        with pytest.raises(OSError) as e:
            with open(alice.p("big"), "wb") as f:
                for _ in range(16):
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
