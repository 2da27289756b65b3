"""A relay folder written by escale itself, mounted as a new client `dave`
with pullers=2: it must read exactly as vectors/ESCALE-RELAY.md says."""

import errno
import os
import shutil
import stat
import time

import pytest

from conftest import VECTORS
from helpers import placeholder, run, sha512


def copy_vectors(relay):
    """Put escale's relay folder on the relay: copied for a local relay,
    uploaded with curl (MKCOL and PUT) to a WebDAV server."""
    src = os.path.join(VECTORS, "escale-relay")
    if relay.server is None:
        shutil.copytree(src, relay.dir, dirs_exist_ok=True)
        for top, dirs, files in os.walk(relay.dir):
            for n in dirs + files:
                p = os.path.join(top, n)
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
        return
    if relay.kind in ("ftp", "ftps", "sftp"):
        return upload_by_ftp(relay, src)
    base = relay.server.url
    auth = ["-u", "relay:relay pass"] if relay.kind == "webdav" else []
    tls = ["--cacert", relay.server.cacert] if relay.server.cacert else []
    for top, dirs, files in os.walk(src):
        rel = os.path.relpath(top, src)
        for d in dirs:
            url = "%s/%s/" % (base, os.path.normpath(os.path.join(rel, d)))
            run("curl", "-sSf", *auth, *tls, "-X", "MKCOL", url)
        for f in files:
            url = "%s/%s" % (base, os.path.normpath(os.path.join(rel, f)))
            run("curl", "-sSf", *auth, *tls, "-T", os.path.join(top, f),
                url)


def upload_by_ftp(relay, src):
    """The same over FTP (MKD, STOR) or SFTP (mkdir, write) with curl."""
    srv = relay.server
    if relay.kind == "sftp":
        opts = ["-k", "--key", srv.identity]  # -k: no known_hosts here
        base = srv.url.rstrip("/") + "/"
        mkdir = "mkdir %s/%%s" % srv.root
    else:
        opts = ["-u", "%s:%s" % (srv.user, srv.password)]
        if relay.kind == "ftps":
            opts += ["--ssl-reqd", "--cacert", srv.cacert]
        base = srv.url.replace("ftps://", "ftp://", 1)
        mkdir = "MKD %s"
    for top, dirs, files in os.walk(src):
        rel = os.path.relpath(top, src)
        for d in dirs:
            run("curl", "-sSf", *opts, "-Q",
                mkdir % os.path.normpath(os.path.join(rel, d)), base)
        for f in files:
            run("curl", "-sSf", *opts, "-T", os.path.join(top, f),
                base + os.path.normpath(os.path.join(rel, f)))


def snapshot(root):
    out = {}
    for top, _, files in os.walk(root):
        for n in files:
            p = os.path.join(top, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def test_escale_relay_as_dave(relay, mount):
    copy_vectors(relay)
    dave = mount("dave", "pullers=2", "lock_wait=2")

    assert sorted(os.listdir(dave.path)) == ["a.txt", "b.bin", "sub"]
    assert os.listdir(dave.p("sub")) == []
    assert os.stat(dave.p("a.txt")).st_size == 17
    assert os.stat(dave.p("a.txt")).st_mtime == 1700000000
    assert os.stat(dave.p("b.bin")).st_size == 1048576
    assert os.stat(dave.p("b.bin")).st_mtime == 1700000100
    for hidden in ("d.txt", "sub/c.txt", ".a.txt.lock", ".b.bin.placeholder"):
        assert not os.path.exists(dave.p(hidden))

    before = relay.read(".b.bin.placeholder")
    with open(dave.p("b.bin"), "rb") as f:
        data = f.read()
    dave.settle()
    assert data == bytes(range(256)) * 4096
    assert sha512(data) == placeholder(before)[0]["checksum"]
    after = relay.read(".b.bin.placeholder")
    assert after == before + b"\ndave"
    assert placeholder(after)[1] == ["bob", "dave"]
    assert not relay.exists("b.bin")
    assert "b.bin" not in os.listdir(dave.path)

    untouched = snapshot(relay.dir)
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        with open(dave.p("a.txt"), "rb") as f:
            f.read()
    assert e.value.errno == errno.EBUSY
    assert time.monotonic() - start >= 1.9
    assert snapshot(relay.dir) == untouched
    assert relay.read(".a.txt.lock") == b"lock%1.0\nowner: carol\nmode: r"
    assert dave.xattr("a.txt", "state") == "locked-r"
    assert dave.xattr("a.txt", "lock") == "carol r"
