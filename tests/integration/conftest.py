"""Fixtures for relayfs's integration tests: a relay (a local folder, or the
same folder served by a real Apache mod_dav, another WebDAV server,
pure-ftpd over FTP or FTPS, or sshd over SFTP) and real FUSE mounts of it
as named clients, always unmounted, whose logs must hold no unexpected
warning."""

import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import servers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
VECTORS = os.environ.get("RELAYFS_VECTORS",
                         os.path.join(SOURCE, "tests", "vectors"))
BIN = os.environ.get("RELAYFS_BIN", os.path.join(SOURCE, "build", "relayfs"))


def pytest_addoption(parser):
    parser.addoption("--backend", action="append", default=None,
                     help="run against these backends only "
                     "(local, webdav, webdavs, nginx, lighttpd, "
                     "rclone, ftp, ftps, sftp)")


ALL_BACKENDS = ["local", "webdav", "webdavs", "nginx", "lighttpd", "rclone",
                "ftp", "ftps", "sftp"]
# the WebDAV servers of the `server` fixture, by the backend that runs them
SERVER_BACKENDS = {"apache": "webdav", "nginx": "nginx",
                   "lighttpd": "lighttpd", "rclone": "rclone"}


def wanted_backends(config):
    return config.getoption("backend") or ALL_BACKENDS


def pytest_generate_tests(metafunc):
    wanted = wanted_backends(metafunc.config)
    if "relay" in metafunc.fixturenames:
        backends = getattr(metafunc.function, "backends", None)
        params = [b for b in wanted if backends is None or b in backends]
        metafunc.parametrize("relay", params, indirect=True)
    if "server" in metafunc.fixturenames:
        metafunc.parametrize("server", [
            k for k, b in SERVER_BACKENDS.items() if b in wanted],
            indirect=True)


def pytest_collection_modifyitems(config, items):
    """Tests of no one backend (command line, TLS, credentials) run with
    the local and Apache backends, not again with the other servers."""
    if set(wanted_backends(config)) & {"local", "webdav", "webdavs"}:
        return
    keep = [i for i in items
            if {"relay", "server"} & set(getattr(i, "fixturenames", ()))]
    if len(keep) != len(items):
        config.hook.pytest_deselected(
            items=[i for i in items if i not in keep])
        items[:] = keep


class Relay:
    """The relay under test: `dir` is the folder on disk that holds it (the
    local relay itself, or the folder Apache serves), `url` what relayfs
    mounts, `options` what it needs besides (cacert, ...).

    pure-ftpd (ftp, ftps) writes as nobody: what a test puts in `dir`
    itself stays writable to it through an ACL that folders made later
    inherit; a chmod (shutil.copytree copies the modes) narrows it, and
    share() widens it again. write() and each mount's start call it.

    What a test reads of the relay it reads once the live mounts have
    settled (Mount.settle: what closes left to the background is done),
    unless the server is frozen: then as it is."""

    def __init__(self, kind, root, url, options=(), server=None):
        self.kind = kind
        self.dir = root
        self.url = url
        self.options = list(options)
        self.server = server
        self.mounts = []

    def settled(self):
        if self.server is not None and getattr(self.server, "_frozen",
                                               None):
            return
        for m in self.mounts:
            if m.proc.poll() is None:
                try:
                    m.settle()
                except OSError:
                    pass  # going away: nothing left to wait for

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def names(self, sub=""):
        self.settled()
        return sorted(os.listdir(self.path(sub)))

    def read(self, *parts):
        self.settled()
        with open(self.path(*parts), "rb") as f:
            return f.read()

    def write(self, rel, data, mtime=None):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        self.share(rel)

    def share(self, rel=None):
        """Let the server write rel (a file or folder, with the folders
        above it) or, without rel, all that is in the relay."""
        if self.server is not None:
            self.server.share(None if rel is None else self.path(rel))

    def exists(self, *parts):
        self.settled()
        return os.path.exists(self.path(*parts))

    def locks(self, settle=True):
        """The lock files, once the live mounts have settled (settle=False
        for a mount about to be stopped: the settle's folder handle would
        still be open in the kernel, and its release lost, as libfuse's
        leak of it under ASan shows)."""
        if settle:
            self.settled()
        found = []
        for top, _, files in os.walk(self.dir):
            found += [os.path.join(top, f) for f in files
                      if f.startswith(".") and f.endswith(".lock")]
        return found


@pytest.fixture
def relay(request, tmp_path):
    """The relay of one backend: "local" (a folder), "webdav" (Apache over
    plain HTTP with basic authentication), "webdavs" (Apache over HTTPS
    with a self-signed certificate made for the test), the folder
    served over plain HTTP by "nginx", "lighttpd" or "rclone" (serve
    webdav), by pure-ftpd over "ftp" or "ftps" (explicit TLS, required,
    the certificate made for the test; user and password) or by sshd
    over "sftp" (a key made for the test; known_hosts)."""
    root = tmp_path / "relay"
    root.mkdir()
    if request.param == "local":
        yield Relay("local", str(root), str(root))
        return
    if request.param in ("ftp", "ftps", "sftp"):
        srv = servers.start_server(request.param, str(root))
        if request.param == "sftp":
            options = ["identity=%s" % srv.identity,
                       "known_hosts=%s" % srv.known_hosts]
        else:
            pw = tmp_path / "password"
            pw.write_text(srv.password + "\n")
            pw.chmod(0o600)
            options = ["user=%s" % srv.user, "password_file=%s" % pw]
            if srv.cacert:
                options.append("cacert=%s" % srv.cacert)
        try:
            yield Relay(request.param, str(root), srv.url, options,
                        server=srv)
        finally:
            srv.stop()
        return
    if request.param in ("nginx", "lighttpd", "rclone"):
        srv = servers.start_server(request.param, str(root))
        url = srv.url.replace("http://", "webdav://", 1)
        try:
            yield Relay(request.param, str(root), url, server=srv)
        finally:
            srv.stop()
        return
    if request.param == "webdav":
        pw = tmp_path / "password"
        pw.write_text("relay pass\n")
        pw.chmod(0o600)
        srv = servers.start_apache(str(root), user="relay",
                                   password="relay pass")
        options = ["user=relay", "password_file=%s" % pw]
        url = srv.url.replace("http://", "webdav://", 1)
    else:
        srv = servers.start_apache(str(root), tls=True)
        options = ["cacert=%s" % srv.cacert]
        url = srv.url.replace("https://", "webdavs://", 1)
    try:
        yield Relay(request.param, str(root), url, options, server=srv)
    finally:
        srv.stop()


class Mount:
    """One running relayfs: `path` is its mountpoint."""

    def __init__(self, relay, client, tmp, options, env_extra=None):
        self.relay = relay
        self.client = client
        self.path = os.path.join(tmp, "mnt-" + client)
        self.logfile = os.path.join(tmp, "log-" + client)
        self.home = os.path.join(tmp, "home-" + client)
        os.makedirs(self.path, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        if hasattr(relay, "share"):
            relay.share()   # what the test put in the relay before mounting
        opts = ["client=" + client,
                "cache_dir=" + os.path.join(tmp, "cache-" + client),
                "lock_wait=2", "dir_cache=0"] + relay.options + list(options)
        env = dict(os.environ, XDG_CONFIG_HOME=self.home + "/config",
                   XDG_DATA_HOME=self.home + "/data",
                   XDG_CACHE_HOME=self.home + "/cache",
                   RELAYFS_RETRY_SECONDS="1", G_MESSAGES_DEBUG="")
        env.update(env_extra or {})
        self.log = open(self.logfile, "w")
        self.proc = subprocess.Popen(
            [BIN, "-f", "-o", ",".join(opts), relay.url, self.path],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.allowed = []
        self._wait_mounted()
        if hasattr(relay, "mounts"):
            relay.mounts.append(self)

    def _wait_mounted(self):
        deadline = time.time() + 15
        while time.time() < deadline:
            if os.path.ismount(self.path):
                return
            if self.proc.poll() is not None:
                raise AssertionError("relayfs exited (%s): %s" %
                                     (self.proc.returncode, self.text()))
            time.sleep(0.05)
        raise AssertionError("relayfs did not mount: " + self.text())

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def text(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def allow(self, fragment):
        """Warnings holding fragment are expected in this mount's log."""
        self.allowed.append(fragment)

    def xattr(self, rel, name):
        return os.getxattr(self.p(rel), "user.relay." + name).decode()

    def settle(self):
        """fsync(2) of the mountpoint: the registrations and unlocks of
        the pulls closed before it are on the relay once it returns."""
        fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def kill(self):
        """SIGKILL relayfs, as a crash would, and detach its mountpoint."""
        self.proc.kill()
        self.proc.wait()
        self.killed = True
        subprocess.run(["fusermount3", "-uz", self.path], check=False)

    def unmount(self):
        if self.proc.poll() is None:
            subprocess.run(["fusermount3", "-u", self.path], check=False)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("relayfs did not exit after unmount")
        self.log.close()
        return self.proc.returncode

    def unexpected_warnings(self):
        bad = []
        for line in self.text().splitlines():
            if ("WARNING" in line or "CRITICAL" in line or "ERROR" in line
                    or "runtime error" in line or "Sanitizer" in line):
                if not any(a in line for a in self.allowed):
                    bad.append(line)
        return bad


@pytest.fixture
def mount(relay, tmp_path):
    """mount(client, *options) -> Mount; all unmounted at the end, each
    checked for a clean exit and an unsurprising log."""
    mounts = []

    def start(client, *options):
        m = Mount(relay, client, str(tmp_path), options)
        mounts.append(m)
        return m

    yield start
    problems = []
    for m in mounts:
        code = m.unmount()
        if code != 0 and not getattr(m, "killed", False):
            problems.append("%s exited %s: %s" % (m.client, code, m.text()))
        bad = m.unexpected_warnings()
        if bad:
            problems.append("%s logged: %s" % (m.client, "\n".join(bad)))
    assert not problems, "\n".join(problems)
