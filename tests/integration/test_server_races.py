"""What a real server makes atomic, shown by racing it, and the lock that
relayfs builds on it: one holder at a time, in the server's own log. Each
WebDAV server is probed by relayfs; the step relayfs chose for it is raced
here, and must never show two winners."""

import configparser
import ftplib
import hashlib
import http.client
import os
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.parse

import pytest

import servers
from conftest import Mount, Relay
from helpers import backends, placeholder


# What the probe must find (README, WebDAV servers), and the step chosen.
EXPECTED = {
    "apache": dict(mkcol_refuses=True, create_refuses=True,
                   put_if_match=True, delete_if_match=True,
                   lists_dotfiles=True, etags_stable=True,
                   cut_put_keeps=True, step="MKCOL"),
    "nginx": dict(mkcol_refuses=True, create_refuses=False,
                  put_if_match=False, delete_if_match=False,
                  lists_dotfiles=False, etags_listed=False,
                  cut_put_keeps=True, step="MKCOL"),
    "lighttpd": dict(mkcol_refuses=True, lock_exclusive=True,
                     create_refuses=True, put_if_match=True,
                     delete_if_match=True, lists_dotfiles=True,
                     etags_stable=False, cut_put_keeps=True, step="MKCOL"),
    "rclone": dict(mkcol_refuses=False, lock_exclusive=True,
                   create_refuses=False, put_if_match=False,
                   lists_dotfiles=True, etags_stable=True,
                   cut_put_keeps=False, step="LOCK"),
}


def race(url, method, path, n, rounds, headers=None, body=None,
         between=None, answers=None):
    """n threads send method on path at once, `rounds` times; returns the
    statuses of each round. `between` runs after every round (given the
    round's answers' headers when `answers` is a list)."""
    u = urllib.parse.urlsplit(url)
    barrier = threading.Barrier(n)
    results = [[None] * n for _ in range(rounds)]

    def worker(i):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            for r in range(rounds):
                barrier.wait()
                conn.request(method, u.path + "/" + path, body=body,
                             headers=headers or {})
                resp = conn.getresponse()
                resp.read()
                results[r][i] = resp.status
                if answers is not None:
                    answers[i] = resp
                barrier.wait()
                if i == 0 and between:
                    between(*(() if answers is None else (answers,)))
                barrier.wait()
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def server(request, tmp_path):
    """A WebDAV server (conftest.SERVER_BACKENDS) serving a new folder."""
    root = tmp_path / "root"
    root.mkdir()
    srv = servers.start_server(request.param, str(root))
    try:
        yield request.param, srv, str(root)
    finally:
        srv.stop()


def probe(kind, srv, root, tmp_path):
    """Mount relayfs on the server once: (its facts file, the step its
    log says it chose)."""
    rel = Relay(kind, root, srv.url.replace("http://", "webdav://", 1))
    m = Mount(rel, "prober", str(tmp_path), ())
    assert m.unmount() == 0
    found = re.search(r"locks taken under a (\w+) mutex|no exclusive step",
                      m.text())
    assert found, m.text()
    facts = configparser.ConfigParser()
    facts.read(os.path.join(str(tmp_path), "cache-prober",
                            "server-facts.ini"))
    return facts["server"], found.group(1) or "none"


def test_the_probe_finds_what_each_server_does(server, tmp_path):
    kind, srv, root = server
    facts, step = probe(kind, srv, root, tmp_path)
    want = dict(EXPECTED[kind])
    assert step == want.pop("step")
    for key, value in want.items():
        assert facts.getboolean(key) == value, key
    assert not [n for n in os.listdir(root) if "probe" in n]


def cut_put(url, path, body):
    """A chunked PUT whose client dies before the last chunk: the
    connection closes after body."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    try:
        sock.sendall(("PUT %s/%s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n" % (
                          u.path, path, u.hostname, u.port)).encode())
        sock.sendall(b"%x\r\n%s\r\n" % (len(body), body))
        time.sleep(0.05)
    finally:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))  # a reset, as a crash
        sock.close()


def test_a_cut_upload_leaves_the_old_content_where_the_probe_says_so(
        server, tmp_path):
    """relayfs streams a push while its file is written only where the
    probe found that an upload cut off leaves the old content: 8 cut
    uploads of 1 KiB to 16 MiB, each followed by a GET half a second
    later (the server has handled the request then), never show anything
    else.
    Where the probe found otherwise (rclone), some cut does show."""
    kind, srv, root = server
    facts, _ = probe(kind, srv, root, tmp_path)
    u = urllib.parse.urlsplit(srv.url)
    old = b"old content\n"
    with open(os.path.join(root, "c"), "wb") as f:
        f.write(old)
    seen = []
    for n in range(8):
        cut_put(srv.url, "c", os.urandom(1024 << (2 * n)))
        time.sleep(0.5)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        try:
            conn.request("GET", u.path + "/c")
            resp = conn.getresponse()
            seen.append((resp.status, resp.read()))
        except http.client.HTTPException as e:
            seen.append((0, str(e).encode()))
        finally:
            conn.close()
    kept = [s == (200, old) for s in seen]
    if facts.getboolean("cut_put_keeps"):
        assert all(kept), [s[0] for s in seen]
    else:
        assert not all(kept)


LOCKINFO = ('<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
            "<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            "<D:owner>race</D:owner></D:lockinfo>")


def test_the_chosen_step_never_has_two_winners(server, tmp_path):
    """8 clients take the mutex of one path at once, 60 rounds, by the
    step relayfs chose for the server: one winner every round."""
    kind, srv, root = server
    _, step = probe(kind, srv, root, tmp_path)
    u = urllib.parse.urlsplit(srv.url)
    if step == "MKCOL":
        def remove():
            os.rmdir(os.path.join(root, ".x.mutex"))

        rounds = race(srv.url, "MKCOL", ".x.mutex/", 8, 60, between=remove)
        won = [s.count(201) for s in rounds]
    else:
        assert step == "LOCK"
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

        def release(answers):
            for resp in answers:
                token = resp.getheader("Lock-Token")
                if 200 <= resp.status < 300 and token:
                    conn.request("DELETE", u.path + "/.x.mutex",
                                 headers={"If": "(%s)" % token})
                    conn.getresponse().read()
                    conn.request("UNLOCK", u.path + "/.x.mutex",
                                 headers={"Lock-Token": token})
                    conn.getresponse().read()

        rounds = race(srv.url, "LOCK", ".x.mutex", 8, 60,
                      headers={"Depth": "0", "Timeout": "Second-60",
                               "Content-Type": "application/xml"},
                      body=LOCKINFO, between=release, answers=[None] * 8)
        conn.close()
        won = [sum(1 for st in s if 200 <= st < 300) for s in rounds]
    assert won == [1] * 60, rounds


@pytest.fixture
def apache(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    srv = servers.start_apache(str(root))
    try:
        yield srv, str(root)
    finally:
        srv.stop()


def test_apache_mkcol_has_one_winner(apache):
    """The mutex folder's promise: of 8 MKCOLs of one path sent at once,
    exactly one is answered 201, every round. The others get 405 (it
    exists) or, when they lost the mkdir(2) itself, 403."""
    srv, root = apache

    def remove():
        os.rmdir(os.path.join(root, ".x.mutex"))

    rounds = race(srv.url, "MKCOL", ".x.mutex", 8, 150, between=remove)
    for statuses in rounds:
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {201, 403, 405}, statuses


def test_apache_delete_if_match_spares_a_new_version(apache):
    """Breaking a mutex: DELETE with If-Match on the tag seen removes that
    version only."""
    srv, root = apache
    u = urllib.parse.urlsplit(srv.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)

    def send(method, headers=None):
        conn.request(method, u.path + "/.y.mutex", headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp

    assert send("MKCOL").status == 201
    old = os.stat(os.path.join(root, ".y.mutex"))
    os.utime(os.path.join(root, ".y.mutex"), (old.st_mtime - 100,) * 2)
    body = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/>' \
        '</prop></propfind>'
    conn.request("PROPFIND", u.path + "/.y.mutex", body=body,
                 headers={"Depth": "0"})
    resp = conn.getresponse()
    text = resp.read().decode()
    etag = text.split("<lp1:getetag>")[1].split("</lp1:getetag>")[0]
    os.rmdir(os.path.join(root, ".y.mutex"))  # broken by someone else...
    assert send("MKCOL").status == 201       # ...and taken again
    assert send("DELETE", {"If-Match": etag}).status == 412
    assert os.path.isdir(os.path.join(root, ".y.mutex"))
    conn.close()


def lock_holds(srv, lock):
    """From Apache's log: for each moment, how many clients held `lock`
    (counted from the end of a successful create to the start of its
    DELETE, both within the real hold)."""
    events = []
    for begin, end, method, status, path in srv.timed_requests():
        if not path.endswith("/" + lock):
            continue
        if method == "PUT" and status == 201:
            events.append((end, 1))
        elif method == "DELETE" and status == 204:
            events.append((begin, -1))
    events.sort()
    held, most = 0, 0
    for _, step in events:
        held += step
        most = max(most, held)
    return most, sum(1 for _, s in events if s == 1)


def write_at_once(mounts, name, rounds, lines):
    """Each mount writes name `rounds` times, all at once; every close
    must succeed. Unmounts them; returns the contents written."""
    errors, written = [], set()

    def writer(m):
        for k in range(rounds):
            data = ("%s %d\n" % (m.client, k)) * lines
            try:
                with open(m.p(name), "w") as f:
                    f.write(data)
                written.add(data.encode())
            except OSError as e:
                errors.append(e)

    threads = [threading.Thread(target=writer, args=(m,)) for m in mounts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    for m in mounts:
        assert m.unmount() == 0
    return written


@backends("webdav", "nginx", "lighttpd", "rclone", "ftp", "ftps", "sftp")
def test_four_mounts_writing_one_name_land_in_turn(relay, mount):
    """Every server: four mounts write one name at once; every close
    pushes, the content left is one whole write matching its
    placeholder, and no lock or mutex stays."""
    mounts = [mount("c%d" % i, "lock_wait=30") for i in range(4)]
    written = write_at_once(mounts, "hot", 8, 3000)
    content = relay.read("hot")
    assert content in written
    meta, _ = placeholder(relay.read(".hot.placeholder"))
    assert meta["checksum"] == hashlib.sha512(content).hexdigest()
    assert relay.locks() == []
    assert not [n for n in os.listdir(relay.dir) if n.endswith(".mutex")]


@backends("webdav")
def test_six_mounts_writing_one_name_never_hold_its_lock_together(
        relay, mount):
    mounts = [mount("c%d" % i, "lock_wait=20") for i in range(6)]
    relay.server.clear_log()
    write_at_once(mounts, "hot", 15, 200)
    most, taken = lock_holds(relay.server, ".hot.lock")
    assert taken >= 6 * 15
    assert most == 1
    assert relay.locks() == []
    assert not os.path.exists(relay.path(".hot.mutex"))


def mkdir_race(clients, root, rounds):
    """Each client (a callable: True when its mkdir of .x.mutex made it)
    runs at once, `rounds` times, the folder removed between rounds;
    returns the number of winners of each round."""
    barrier = threading.Barrier(len(clients))
    won = [[False] * len(clients) for _ in range(rounds)]

    def worker(i):
        for r in range(rounds):
            barrier.wait()
            won[r][i] = clients[i]()
            if barrier.wait() == 0:
                os.rmdir(os.path.join(root, ".x.mutex"))
            barrier.wait()

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return [sum(r) for r in won]


@backends("ftp")
def test_ftp_mkd_has_one_winner(relay):
    """The FTP mutex's promise: of 8 MKDs of one folder sent at once on 8
    logged-in connections, exactly one succeeds (257), every round; the
    others get 550."""
    srv = relay.server
    conns = []
    for _ in range(8):
        c = ftplib.FTP()
        c.connect("127.0.0.1", srv.port, timeout=10)
        c.login(srv.user, srv.password)
        conns.append(c)

    def mkd(c):
        try:
            c.mkd(".x.mutex")
            return True
        except ftplib.error_perm as e:
            assert str(e).startswith("550"), e
            return False

    try:
        won = mkdir_race([lambda c=c: mkd(c) for c in conns], relay.dir, 60)
    finally:
        for c in conns:
            c.close()
    assert won == [1] * 60


class SftpClient:
    """A bare SFTP v3 client on `ssh -s sftp`: enough for mkdir."""

    def __init__(self, srv):
        self.proc = subprocess.Popen(
            ["ssh", "-q", "-i", srv.identity, "-p", str(srv.port),
             "-o", "UserKnownHostsFile=" + srv.known_hosts,
             "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
             "-s", "root@127.0.0.1", "sftp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.id = 0
        self._send(1, struct.pack(">I", 3))        # SSH_FXP_INIT, v3
        kind, _ = self._receive()
        assert kind == 2                          # SSH_FXP_VERSION

    def _send(self, kind, payload):
        self.proc.stdin.write(struct.pack(">IB", len(payload) + 1, kind)
                              + payload)
        self.proc.stdin.flush()

    def _receive(self):
        size, kind = struct.unpack(">IB", self.proc.stdout.read(5))
        return kind, self.proc.stdout.read(size - 1)

    def mkdir(self, path):
        """True when the server made it (status OK)."""
        self.id += 1
        raw = path.encode()
        self._send(14, struct.pack(">II", self.id, len(raw)) + raw +
                   struct.pack(">I", 0))          # SSH_FXP_MKDIR, no attrs
        kind, body = self._receive()
        assert kind == 101                        # SSH_FXP_STATUS
        _, code = struct.unpack(">II", body[:8])
        assert code in (0, 4), code               # OK, or FAILURE
        return code == 0

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


@backends("sftp")
def test_sftp_mkdir_has_one_winner(relay):
    """The SFTP mutex's promise: of 8 mkdirs of one folder sent at once on
    8 open SFTP sessions, exactly one succeeds, every round."""
    clients = [SftpClient(relay.server) for _ in range(8)]
    path = os.path.join(relay.dir, ".x.mutex")
    try:
        won = mkdir_race([lambda c=c: c.mkdir(path) for c in clients],
                         relay.dir, 60)
    finally:
        for c in clients:
            c.close()
    assert won == [1] * 60


@backends("ftp", "sftp")
def test_ftp_and_sftp_probes_find_an_exclusive_mkdir(relay, mount):
    """The probe at mount finds mkdir exclusive and dot-files listed on
    pure-ftpd and OpenSSH, says so, and leaves nothing behind."""
    m = mount("prober")
    assert m.unmount() == 0
    assert "locks taken under a mkdir mutex" in m.text()
    assert "listings show dot-files" in m.text()
    assert not [n for n in os.listdir(relay.dir) if "probe" in n]
