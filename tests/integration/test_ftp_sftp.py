"""What only FTP and SFTP relays meet: a wrong login, a server without
TLS, an unknown or changed host key: one clear line at mount, exit 1, and
no secret in it; an account over its quota: the push fails with EDQUOT
and stays pending."""

import errno
import os
import subprocess

import pytest

import servers
from conftest import BIN, Mount, Relay
from helpers import backends


def mount_fails(relay, tmp_path, *options):
    """relayfs on relay with options must refuse to mount: its stderr."""
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    opts = ",".join(["cache_dir=%s" % (tmp_path / "cache")] + list(options))
    r = subprocess.run([BIN, relay.url, str(mnt), "-o", opts],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r
    assert not os.path.ismount(mnt)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@backends("ftp")
def test_a_wrong_ftp_password_is_said_in_one_line(relay, tmp_path):
    pw = tmp_path / "wrong"
    pw.write_text("not the password\n")
    pw.chmod(0o600)
    line = mount_fails(relay, tmp_path, "user=relay", "password_file=%s" % pw)
    assert "530" in line and "refused the login" in line, line
    assert "not the password" not in line


@backends("ftp")
def test_ftps_to_a_server_without_tls_is_refused(relay, tmp_path):
    relay.url = relay.url.replace("ftp://", "ftps://", 1)
    line = mount_fails(relay, tmp_path, *relay.options)
    assert "offers no TLS" in line, line


@backends("ftps")
def test_ftps_certificate_is_verified(relay, tmp_path):
    opts = [o for o in relay.options if not o.startswith("cacert=")]
    line = mount_fails(relay, tmp_path, *opts)
    assert "cacert=FILE or insecure" in line, line


@backends("ftp")
def test_nothing_listening_is_said_in_one_line(relay, tmp_path):
    relay.url = "ftp://127.0.0.1:1/"
    line = mount_fails(relay, tmp_path, *relay.options)
    assert "Couldn't connect" in line, line


@backends("sftp")
def test_an_unknown_sftp_host_key_is_refused(relay, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    line = mount_fails(relay, tmp_path, "identity=%s" % relay.server.identity,
                       "known_hosts=%s" % empty)
    assert "host key is not in known_hosts" in line, line


@backends("sftp")
def test_a_changed_sftp_host_key_is_refused(relay, tmp_path):
    other = tmp_path / "otherkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(other)], check=True)
    kind, key = open(str(other) + ".pub").read().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text("[127.0.0.1]:%d %s %s\n" % (relay.server.port, kind,
                                                 key))
    line = mount_fails(relay, tmp_path, "identity=%s" % relay.server.identity,
                       "known_hosts=%s" % known)
    assert "not the one known_hosts holds" in line, line


@backends("sftp")
def test_a_key_the_server_does_not_know_is_refused(relay, tmp_path):
    other = tmp_path / "userkey"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(other)], check=True)
    line = mount_fails(relay, tmp_path, "identity=%s" % other,
                       "known_hosts=%s" % relay.server.known_hosts)
    assert "refused the login" in line, line


def test_ftp_over_quota_push_fails_with_edquot_and_stays_pending(tmp_path):
    root = tmp_path / "relay"
    root.mkdir()
    srv = servers.start_pure_ftpd(str(root), quota_kb=1024)
    try:
        pw = tmp_path / "password"
        pw.write_text(srv.password + "\n")
        pw.chmod(0o600)
        relay = Relay("ftp", str(root), srv.url,
                      ["user=relay", "password_file=%s" % pw], server=srv)
        alice = Mount(relay, "alice", str(tmp_path), [])
        try:
            alice.allow("push of big failed")
            alice.allow("552")
            with pytest.raises(OSError) as e:
                with open(alice.p("big"), "wb") as f:
                    f.write(os.urandom(2 << 20))
            assert e.value.errno == errno.EDQUOT
            # kept, and pushed again (the retry may be at it already)
            assert alice.xattr("big", "state") in ("pending", "uploading")
        finally:
            assert alice.unmount() == 0
        assert not relay.exists("big")
    finally:
        srv.stop()
