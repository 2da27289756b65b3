#!/usr/bin/python3
"""Requests relayfs sends per operation on each WebDAV server: a push of a
1 KB file by one mount, then a listing and a pull of it by another, counted
in user.relay.stats. Run as root from the source tree after a build:
    scripts/request-counts.py [apache nginx lighttpd rclone]"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("RELAYFS_BIN", os.path.join(HERE, "..", "build",
                                                  "relayfs"))
import servers  # noqa: E402
from conftest import Mount, Relay  # noqa: E402

KINDS = ["list", "stat", "get", "put", "create", "remove", "rename", "mkdir",
         "rmdir"]


def counts(m):
    text = os.getxattr(m.path, "user.relay.stats").decode()
    kv = dict(x.split("=", 1) for x in text.split() if "=" in x)
    return {k: int(kv.get(k, 0)) for k in KINDS}


def spent(before, after):
    return {k: after[k] - before[k] for k in KINDS if after[k] != before[k]}


def measure(kind):
    tmp = tempfile.mkdtemp(prefix="relayfs-counts-")
    root = os.path.join(tmp, "relay")
    os.mkdir(root)
    srv = servers.start_server(kind, root)
    try:
        rel = Relay(kind, root, srv.url.replace("http://", "webdav://", 1))
        alice = Mount(rel, "alice", tmp, ["dir_cache=10"])
        bob = Mount(rel, "bob", tmp, ["dir_cache=0"])
        os.listdir(alice.path)
        before = counts(alice)
        with open(alice.p("f.txt"), "w") as f:
            f.write("x" * 1000)
        push = spent(before, counts(alice))
        before = counts(bob)
        with open(bob.p("f.txt")) as f:
            f.read()
        pull = spent(before, counts(bob))
        alice.unmount()
        bob.unmount()
        return push, pull
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


for kind in sys.argv[1:] or ["apache", "nginx", "lighttpd", "rclone"]:
    push, pull = measure(kind)
    print("%-9s push %2d %s\n          lookup+pull %2d %s" % (
        kind, sum(push.values()), push, sum(pull.values()), pull))
