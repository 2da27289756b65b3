"""Six mounts (six clients) writing, reading, renaming and deleting an
overlapping set of names on one relay at once, for a bounded time; then
the relay must be consistent: checksums, pullers, no lock left, one
holder of each lock at a time in Apache's log, nothing written lost."""

import errno
import os
import random
import threading
import time

import pytest

from conftest import Mount
from helpers import backends, placeholder, sha512
from test_server_races import lock_holds

NAMES = ["f0", "f1", "f2", "f3"]
SECONDS = 6
MOUNTS = 6


def worker(m, seed, deadline, record):
    rnd = random.Random(seed)
    k = 0
    while time.monotonic() < deadline and k < 60:
        k += 1
        name = rnd.choice(NAMES)
        op = rnd.choice(["write", "write", "read", "read", "rename",
                         "delete"])
        try:
            if op == "write":
                data = ("%s %d\n" % (m.client, k)).encode() * \
                    rnd.choice([1, 300, 3000])
                try:
                    with open(m.p(name), "wb") as f:
                        f.write(data)
                    record["written"].append((m.client, name, data))
                except OSError as e:
                    # the copy is kept and pushed later: logged
                    record["failed"].append((m.client, name, data, e.errno))
            elif op == "read":
                with open(m.p(name), "rb") as f:
                    f.read()
            elif op == "rename":
                # onto a name of its own: renames onto the shared names at
                # once hang libfuse 3.14's path locks now and then, with
                # relayfs idle (a FUSE_RENAME never handed to it)
                os.rename(m.p(name), m.p("%s-%s-%d" % (name, m.client, k)))
            else:
                os.unlink(m.p(name))
        except OSError as e:
            # another client's lock, a file renamed, deleted or pulled away
            # meanwhile: the errors a user meets here
            assert e.errno in (errno.ENOENT, errno.EBUSY, errno.ESTALE), e


def relay_files(relay):
    for top, dirs, files in os.walk(relay.dir):
        dirs[:] = [d for d in dirs if not d.endswith(".mutex")]
        for f in files:
            yield os.path.relpath(os.path.join(top, f), relay.dir)


def check_consistent(relay, pullers):
    assert relay.locks() == []
    for top, dirs, _ in os.walk(relay.dir):
        assert not [d for d in dirs if d.endswith(".mutex")], top
    for rel in relay_files(relay):
        name = os.path.basename(rel)
        if not name.endswith(".placeholder"):
            continue
        target = os.path.join(os.path.dirname(rel), name[1:-12])
        meta, who = placeholder(relay.read(rel))
        # no pull registered twice, the pusher never counted
        assert len(who) == len(set(who)), (rel, who)
        assert meta["pusher"] not in who, (rel, meta, who)
        if relay.exists(target):
            data = relay.read(target)
            assert sha512(data) == meta["checksum"], rel
            # content stays only while fewer than `pullers` have it
            assert len(who) < pullers, (rel, who)


@backends("local", "webdav")
@pytest.mark.parametrize("pullers", [2, 3])
def test_six_mounts_at_once_leave_a_consistent_relay(relay, tmp_path,
                                                     pullers):
    opts = ["pullers=%d" % pullers, "lock_wait=3", "block_size=64K"]
    mounts = [Mount(relay, "c%d" % i, str(tmp_path), opts)
              for i in range(MOUNTS)]
    if relay.server:
        relay.server.clear_log()
    record = {"written": [], "failed": []}
    deadline = time.monotonic() + SECONDS
    try:
        threads = [threading.Thread(target=worker,
                                    args=(m, i, deadline, record))
                   for i, m in enumerate(mounts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive()
    finally:
        codes = [m.unmount() for m in mounts]
    assert codes == [0] * MOUNTS
    assert record["written"], "nothing was written"
    # every close that failed is kept, and says so in its mount's log
    for client, name, _, _ in record["failed"]:
        text = open(os.path.join(str(tmp_path), "log-" + client)).read()
        assert "push of %s failed" % name in text
        assert "is kept and will be pushed again" in text
    if relay.server:
        for name in NAMES:
            most, _ = lock_holds(relay.server, "." + name + ".lock")
            assert most <= 1, name
    check_consistent(relay, pullers)
    # the copies kept are pushed by the next mount of each client
    again = [Mount(relay, "c%d" % i, str(tmp_path), opts)
             for i in range(MOUNTS)]
    deadline = time.monotonic() + 30
    staging = [os.path.join(str(tmp_path), "cache-c%d" % i, "staging")
               for i in range(MOUNTS)]
    while any(os.path.isdir(s) and os.listdir(s) for s in staging):
        assert time.monotonic() < deadline, [os.listdir(s) for s in staging
                                             if os.path.isdir(s)]
        time.sleep(0.1)
    assert [m.unmount() for m in again] == [0] * MOUNTS
    check_consistent(relay, pullers)
