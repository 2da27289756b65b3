"""What a real server makes atomic, shown by racing it, and the lock that
relayfs builds on it: one holder at a time, in the server's own log."""

import http.client
import os
import threading
import urllib.parse

import pytest

import servers
from helpers import backends


def race(url, method, path, n, rounds, headers=None, body=None,
         between=None):
    """n threads send method on path at once, `rounds` times; returns the
    statuses of each round. `between` runs after every round."""
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
                barrier.wait()
                if i == 0 and between:
                    between()
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


@backends("webdav")
def test_six_mounts_writing_one_name_never_hold_its_lock_together(
        relay, mount):
    mounts = [mount("c%d" % i, "lock_wait=20") for i in range(6)]
    relay.server.clear_log()
    errors = []

    def writer(m):
        for k in range(15):
            try:
                with open(m.p("hot"), "w") as f:
                    f.write("%s %d\n" % (m.client, k) * 200)
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
    most, taken = lock_holds(relay.server, ".hot.lock")
    assert taken >= 6 * 15
    assert most == 1
    assert relay.locks() == []
    assert not os.path.exists(relay.path(".hot.mutex"))
