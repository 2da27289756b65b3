"""WebDAV relays through real mounts of a real Apache mod_dav: requests per
operation counted in Apache's access log, TLS with a private CA, basic
authentication, a server whose PROPFIND answers hold hostile hrefs, and
one that offers no exclusive step."""

import http.server
import os
import subprocess
import threading
import time

import pytest

import servers
from conftest import BIN, Mount, Relay
from helpers import backends, placeholder, run


def methods(srv):
    return [(m, p.rstrip("/").rsplit("/", 1)[-1])
            for m, p, _ in srv.requests()]


@backends("webdav")
def test_request_counts(relay, mount, tmp_path):
    srv = relay.server
    alice = mount("alice", "dir_cache=10")
    os.listdir(alice.path)
    srv.clear_log()
    run("cp", __file__, alice.p("one.py"))
    reqs = methods(srv)
    kinds = [m for m, _ in reqs]
    # the placeholder's ETag is learnt under the lock (one PROPFIND), so
    # that the next listing knows it without reading it
    assert ("PROPFIND", ".one.py.placeholder") in reqs, reqs
    assert kinds.count("PROPFIND") <= 2, reqs
    # the lock is created under its mutex folder (MKCOL is atomic on
    # Apache, its PUT with If-None-Match is not); then, side by side, the
    # mutex goes, the placeholder and the content are written; the lock
    # goes last
    steps = [r for r in reqs if r[0] != "PROPFIND"]
    assert steps[:2] == [("MKCOL", ".one.py.mutex"),
                         ("PUT", ".one.py.lock")], reqs
    assert sorted(steps[2:5]) == [
        ("DELETE", ".one.py.mutex"), ("PUT", ".one.py.placeholder"),
        ("PUT", "one.py")], reqs
    assert steps[5:] == [("DELETE", ".one.py.lock")], reqs

    # Apache's ETags are weak while a file is under a second old, and a
    # weak ETag never satisfies If-Match: the pull would read the
    # placeholder again (one request more). Make the files older.
    old = time.time() - 10
    for name in ("one.py", ".one.py.placeholder"):
        os.utime(relay.path(name), (old, old))
    bob = mount("bob", "dir_cache=10")
    srv.clear_log()
    run("cat", bob.p("one.py"))
    bob.settle()
    reqs = methods(srv)
    assert len(reqs) <= 10, reqs
    assert [m for m, _ in reqs].count("PROPFIND") <= 2, reqs
    assert not relay.exists("one.py")
    assert placeholder(relay.read(".one.py.placeholder"))[1] == ["bob"]


@backends("webdav")
def test_listing_a_thousand_files(relay, mount):
    alice = mount("alice", "dir_cache=3", "transfers=8")
    os.mkdir(alice.p("many"))
    relay.server.clear_log()
    start = time.monotonic()
    for i in range(1000):
        with open(alice.p("many", "f%04d" % i), "w") as f:
            f.write("x")
    spent = time.monotonic() - start
    # this mount's own pushes update its listing: no listing per file
    reqs = relay.server.requests()
    kinds = [m for m, _, _ in reqs]
    # each lock is created under its mutex folder: MKCOL, DELETE
    assert kinds.count("PUT") == 3000 and kinds.count("DELETE") == 2000
    assert kinds.count("MKCOL") == 1000
    # each placeholder's ETag, learnt under its lock
    assert sum(1 for m, p, _ in reqs if m == "PROPFIND" and
               p.endswith(".placeholder")) == 1000
    # at most the folder and its parent again each time dir_cache runs out
    assert kinds.count("PROPFIND") - 1000 <= 2 * (spent / 3 + 2)
    time.sleep(3.1)  # let the listing age past dir_cache
    relay.server.clear_log()
    out = run("ls", "-l", alice.p("many")).stdout
    assert len(out.splitlines()) == 1001
    # one PROPFIND of the folder (and one of its parent, whose listing
    # has aged too, for the lookup of "many")
    reqs = relay.server.requests()
    assert [(m, p) for m, p, _ in reqs if p.rstrip("/").endswith("many")] \
        == [("PROPFIND", "/dav/many")], reqs
    assert len(reqs) <= 2, reqs
    relay.server.clear_log()
    run("ls", "-l", alice.p("many"))
    assert relay.server.requests() == []


@backends("webdav")
def test_connections_are_reused(relay, mount):
    alice = mount("alice")
    relay.server.clear_log()
    for i in range(5):
        with open(alice.p("f%d" % i), "w") as f:
            f.write("data %d" % i)
    assert relay.server.connections() <= 4


def mount_with(tmp_path, srv, client, *options, root=None):
    rel = Relay("webdav", root, srv.url, options)
    return Mount(rel, client, str(tmp_path), ())


def test_tls_with_private_ca(tmp_path):
    root = tmp_path / "relay"
    root.mkdir()
    srv = servers.start_apache(str(root), tls=True)
    try:
        url = srv.url.replace("https://", "webdavs://")
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        r = subprocess.run([BIN, "-f", "-o", "cache_dir=%s/c" % tmp_path,
                            url, str(mnt)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert lines[-1].startswith("relayfs: "), r.stderr
        assert "certificate" in r.stderr.lower(), r.stderr
        m = mount_with(tmp_path, srv, "alice", "cacert=" + srv.cacert,
                       root=str(root))
        try:
            with open(m.p("secure.txt"), "w") as f:
                f.write("over tls\n")
            assert (root / "secure.txt").read_text() == "over tls\n"
        finally:
            assert m.unmount() == 0
            assert m.unexpected_warnings() == []
    finally:
        srv.stop()


def test_basic_auth_and_refused_credentials(tmp_path):
    root = tmp_path / "relay"
    root.mkdir()
    srv = servers.start_apache(str(root), user="relay", password="s3cret!")
    pw = tmp_path / "pw"
    pw.write_text("s3cret!\n")
    pw.chmod(0o600)
    bad = tmp_path / "bad"
    bad.write_text("wrong\n")
    bad.chmod(0o600)
    try:
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        r = subprocess.run([BIN, "-f", "-o",
                            "user=relay,password_file=%s,cache_dir=%s/c" %
                            (bad, tmp_path), srv.url, str(mnt)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1
        assert "credentials" in r.stderr, r.stderr
        assert "wrong" not in r.stderr
        m = mount_with(tmp_path, srv, "alice", "user=relay",
                       "password_file=%s" % pw, root=str(root))
        try:
            ps = run("ps", "axww", "-o", "args").stdout
            assert "s3cret" not in ps
            with open(m.p("f.txt"), "w") as f:
                f.write("authenticated\n")
            assert (root / "f.txt").read_text() == "authenticated\n"
            assert "s3cret" not in m.text()
        finally:
            assert m.unmount() == 0
    finally:
        srv.stop()


def test_credentials_from_netrc(tmp_path):
    root = tmp_path / "relay"
    root.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1 login relay password n3trc-pw\n")
    netrc.chmod(0o600)
    srv = servers.start_apache(str(root), user="relay", password="n3trc-pw")
    try:
        rel = Relay("webdav", str(root), srv.url)
        m = Mount(rel, "alice", str(tmp_path), (),
                  env_extra={"HOME": str(home)})
        try:
            with open(m.p("f.txt"), "w") as f:
                f.write("via netrc\n")
            assert (root / "f.txt").read_text() == "via netrc\n"
        finally:
            assert m.unmount() == 0
    finally:
        srv.stop()


HOSTILE = [
    "/dav/", "/dav/good.txt", "/dav/a%2Fb", "/dav/nul%00byte", "/dav/.",
    "/dav/..", "http://evil.example/dav/other", "/elsewhere/x",
    "/dav/new%0Aline", "/dav/bad%FFutf8", "/dav/sub/deeper",
]


class HostileDav(http.server.BaseHTTPRequestHandler):
    """A few lines of WebDAV: PROPFIND lists HOSTILE, good.txt is served."""

    def log_message(self, *args):
        pass

    def do_PROPFIND(self):
        if self.path.rstrip("/") != "/dav":
            self.send_response(404)  # no special files here
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        items = "".join(
            "<D:response><D:href>%s</D:href><D:propstat><D:prop>"
            "<D:resourcetype>%s</D:resourcetype>"
            "<D:getcontentlength>5</D:getcontentlength>"
            "<D:getlastmodified>Tue, 14 Nov 2023 22:13:20 GMT"
            "</D:getlastmodified></D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            % (h, "<D:collection/>" if h.endswith("/") else "")
            for h in HOSTILE)
        body = ('<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">%s'
                "</D:multistatus>" % items).encode()
        self.send_response(207)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"good\n")


def test_hostile_propfind_hrefs_are_skipped(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileDav)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = "webdav://127.0.0.1:%d/dav" % httpd.server_address[1]
        rel = Relay("webdav", str(tmp_path), url)
        # read-only: a server that cannot MKCOL offers no exclusive step
        m = Mount(rel, "alice", str(tmp_path), ("ro",))
        try:
            assert sorted(os.listdir(m.path)) == ["good.txt"]
        finally:
            assert m.unmount() == 0
        assert "skip" in m.text().lower()
    finally:
        httpd.shutdown()


def test_a_server_without_an_exclusive_step_mounts_read_only_or_advisory(
        tmp_path):
    """The probe cannot make a folder here (the server refuses MKCOL):
    no mutex, so a writable mount is refused, saying why, unless the user
    accepts advisory locks."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileDav)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = "webdav://127.0.0.1:%d/dav" % httpd.server_address[1]
        rel = Relay("webdav", str(tmp_path), url)
        with pytest.raises(AssertionError) as e:
            Mount(rel, "alice", str(tmp_path), ())
        assert "relayfs exited (1)" in str(e.value)
        assert "no exclusive step: the probe could not make a folder" in \
            str(e.value)
        assert "-o advisory_locks" in str(e.value)
        m = Mount(rel, "bob", str(tmp_path), ("advisory_locks",))
        try:
            assert "good.txt" in os.listdir(m.path)
        finally:
            assert m.unmount() == 0
        assert "locks are advisory" in m.text()
    finally:
        httpd.shutdown()
