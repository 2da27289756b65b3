"""Test servers for relayfs, from Debian's packages, on 127.0.0.1, each
started on a free port with its own config, logs and lock files, and
always stopped: WebDAV servers (Apache httpd with mod_dav, nginx with dav
and dav_ext, lighttpd with mod_webdav, rclone serve webdav), pure-ftpd
(FTP, and FTPS with explicit TLS) and OpenSSH's sshd (SFTP).

Python API (stdlib only):
    srv = start_server(kind, root_dir)   kind: apache, nginx, lighttpd,
                   rclone, ftp, ftps (pure-ftpd), sftp (sshd)
    srv = start_apache(root_dir, tls=False, user=None, password=None)
    srv.url        "http://127.0.0.1:PORT/dav" (https when tls);
                   "ftp://127.0.0.1:PORT/", "ftps://127.0.0.1:PORT/" (the
                   folder is the FTP root; srv.user, srv.password);
                   "sftp://root@127.0.0.1:PORT/abs/path/of/root_dir"
                   (srv.identity: the user's private key; srv.known_hosts)
    srv.cacert     the self-signed certificate (PEM) when tls, else None
    srv.requests() [(method, decoded_path, status)] from the access log
                   (Apache and nginx; NotImplementedError elsewhere)
    srv.connections()  how many TCP connections Apache accepted
    srv.clear_log()
    srv.share(path=None)  let the server write what the test put in the
                   folder (pure-ftpd writes as nobody; a no-op elsewhere)
    srv.pause(), srv.resume()   kill it and start it again on its port
    srv.freeze(), srv.thaw()    SIGSTOP / SIGCONT it (a hung server), its
                   connections' processes too
    srv.stop()     (also registered with atexit; and each server gets
                   SIGTERM if the process that started it dies)

Command line (for the C unit tests):
    servers.py serve ROOT [--tls] [--user U --password P] [--digest]
                          [--watch-stdin]
prints "url=...", "cacert=..." (tls only), "log=...", "connlog=..." and
"ready", one a line, then serves until SIGTERM/SIGINT (or EOF on stdin
with --watch-stdin).

Apache refuses to run as root, and every folder on the path to ROOT would
have to be traversable by www-data; so when we are root Apache runs as
www-data with the ambient capability CAP_DAC_OVERRIDE (setpriv): it can
serve a ROOT anywhere and overwrite files the test created as root.
pure-ftpd cannot serve a virtual user as root: see PureFtpd.
"""

import atexit
import hashlib
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

APACHE = "/usr/sbin/apache2"
MODULES = "/usr/lib/apache2/modules"
LOG_FORMAT = "%m %U %>s %B"
CONN_FORMAT = "%k %m %U"   # %k: keep-alive requests so far, 0 = new conn
# when each request began and ended (microseconds since the epoch)
TIMED_FORMAT = "%{begin:usec}t %{end:usec}t %m %>s %U"
REALM = "relay"


def _proc_table():
    """{pid: (ppid, pgid, state, starttime)} of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(name)] = (int(fields[1]), int(fields[2]), fields[0],
                            int(fields[19]))
    return table


def _family(pid):
    """{pid: (ppid, pgid, state, starttime)} of process group pid and of
    every descendant of pid: sshd puts each connection in a session of
    its own, out of the group."""
    table = _proc_table()
    kids = {}
    for p, info in table.items():
        kids.setdefault(info[0], []).append(p)
    found = {p for p, info in table.items() if info[1] == pid}
    if pid in table:
        found.add(pid)
    todo = list(found)
    while todo:
        for child in kids.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {p: table[p] for p in found}


def _group_states(pgid):
    """{pid: state letter} of the processes in process group pgid and of
    their descendants."""
    return {p: info[2] for p, info in _family(pgid).items()}


def _signal_family(pid, family, sig):
    """Send sig to process group pid and to the processes of family (from
    _family) that are still the same processes."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    now = _proc_table()
    for p, info in family.items():
        if p in now and now[p][3] == info[3]:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass


def _stop_family(pid, limit=5):
    """SIGSTOP process group pid and its descendants until all are stopped
    and no new one appears (a stopped parent forks no more); returns the
    family, or None if it would not stop within limit seconds."""
    deadline = time.monotonic() + limit
    seen = {}
    while True:
        family = _family(pid)
        seen.update(family)
        _signal_family(pid, family, signal.SIGSTOP)
        time.sleep(0.01)
        again = _family(pid)
        if (set(again) <= set(family)
                and all(info[2] in "TtZX" for info in again.values())):
            seen.update(again)
            return seen
        if time.monotonic() > deadline:
            return None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unescape_log(text):
    """Undo Apache's log escaping (ap_escape_logitem) and decode UTF-8."""
    simple = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "v": b"\v",
              "\\": b"\\", '"': b'"'}
    out = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    while i < len(raw):
        c = raw[i:i + 1]
        if c == b"\\" and i + 1 < len(raw):
            nxt = chr(raw[i + 1])
            if nxt == "x" and i + 4 <= len(raw):
                out += bytes([int(raw[i + 2:i + 4], 16)])
                i += 4
                continue
            if nxt in simple:
                out += simple[nxt]
                i += 2
                continue
        out += c
        i += 1
    return out.decode("utf-8", "surrogateescape")


class Server:
    """One running server process group: started on a free port, logs
    read back, paused, frozen and always stopped. Subclasses write the
    config (_config) and say how to start it (_command)."""

    name = "server"
    stderr_to_log = False  # its stderr goes to errlog, not to a pipe
    log_flush = 0.05   # seconds the access log may lag behind an answer
    first_request = "0"  # the connection log's mark of a new connection

    def __init__(self, root_dir):
        self.root = os.path.abspath(root_dir)
        self.tmp = tempfile.mkdtemp(prefix="relayfs-%s-" % self.name)
        self.conf = os.path.join(self.tmp, "server.conf")
        self.log = os.path.join(self.tmp, "access.log")
        self.connlog = os.path.join(self.tmp, "conn.log")
        self.timedlog = os.path.join(self.tmp, "timed.log")
        self.errlog = os.path.join(self.tmp, "error.log")
        self.cacert = None
        self.proc = None
        self.port = None
        atexit.register(self.stop)

    def _finish_start(self, auth=""):
        self._start(auth)
        scheme = "https" if getattr(self, "tls", False) else "http"
        self.url = "%s://127.0.0.1:%d/dav" % (scheme, self.port)

    def _start(self, auth):
        for attempt in range(5):
            self.port = _free_port()
            with open(self.conf, "w") as f:
                f.write(self._config(auth))
            stderr = subprocess.PIPE
            if self.stderr_to_log:
                stderr = open(self.errlog, "ab")
            self.proc = subprocess.Popen(
                self._launch(), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr,
                start_new_session=True)
            if self.stderr_to_log:
                stderr.close()
            if self._wait_listening():
                return
            err = self._kill()
            if "Address already in use" not in err + self._errors():
                break
        raise RuntimeError("%s did not start: %s %s" % (
            self.name, err.strip(), self._errors()))

    def _launch(self):
        """The command, made to get SIGTERM if we die without stopping it
        (a test run killed): setpriv --pdeathsig, then exec."""
        cmd = self._command()
        if cmd[0] == "setpriv":
            return cmd
        return ["setpriv", "--pdeathsig=SIGTERM", "--"] + cmd

    def _wait_listening(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def share(self, path=None):
        """Let the server write what the tests put in the folder it serves
        (path: a file or folder in it, else all of it); nothing to do for
        a server that runs as root or with CAP_DAC_OVERRIDE."""

    def _make_cert(self):
        """A self-signed certificate for 127.0.0.1 (self.cacert) and its
        key (self.key)."""
        self.cacert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "7",
             "-keyout", self.key, "-out", self.cacert,
             "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _errors(self):
        try:
            with open(self.errlog, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def _kill(self):
        """Stop the process group and the server's descendants out of it
        (sshd's connections): SIGTERM, then SIGKILL after 5 s. They are
        all stopped first, so that none forks a process we would miss."""
        if self.proc is None:
            return ""
        proc, self.proc = self.proc, None
        family = _stop_family(proc.pid) or _family(proc.pid)
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            _signal_family(proc.pid, family, sig)
            _signal_family(proc.pid, family, signal.SIGCONT)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # children left after the parent died
        _signal_family(proc.pid, family, signal.SIGKILL)
        if proc.stderr is None:
            return ""  # it went to the error log
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        return err

    def _settle(self):
        """A server logs a request just after answering it (lighttpd up
        to a second later): wait until the logs have not grown for
        log_flush seconds."""
        quiet, limit = self.log_flush, max(2.0, 3 * self.log_flush)
        def sizes():
            return tuple(os.path.getsize(p) if os.path.exists(p) else 0
                         for p in (self.log, self.connlog))
        last, since = sizes(), time.monotonic()
        deadline = since + limit
        while time.monotonic() < deadline:
            time.sleep(0.01)
            now = sizes()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break

    def _log_lines(self, path):
        """The lines of one of the logs since the last clear_log()."""
        self._settle()
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                return [line.rstrip("\n") for line in f]
        except FileNotFoundError:
            return []

    def requests(self):
        """[(method, decoded_path, status)] since the last clear_log()."""
        out = []
        for line in self._log_lines(self.log):
            method, rest = line.split(" ", 1)
            path, status, _size = rest.rsplit(" ", 2)
            out.append((method, _unescape_log(path), int(status)))
        return out

    def timed_requests(self):
        """[(begin_us, end_us, method, status, decoded_path)] since the
        last clear_log()."""
        out = []
        for line in self._log_lines(self.timedlog):
            begin, end, method, status, path = line.split(" ", 4)
            out.append((int(begin), int(end), method, int(status),
                        _unescape_log(path)))
        return out

    def connections(self):
        """TCP connections opened since the last clear_log()."""
        self._settle()
        try:
            with open(self.connlog, errors="replace") as f:
                return sum(1 for line in f
                           if line.split(" ", 1)[0] == self.first_request)
        except FileNotFoundError:
            return 0

    def clear_log(self):
        self._settle()
        for path in (self.log, self.connlog, self.timedlog):
            if os.path.exists(path):
                os.truncate(path, 0)

    def pause(self):
        """Kill the server (as a crash or an outage would); resume()
        starts it again on the same port."""
        self._kill()

    def resume(self):
        self.proc = subprocess.Popen(
            self._launch(), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        if not self._wait_listening():
            raise RuntimeError("%s did not start again: %s %s" % (
                self.name, self._kill().strip(), self._errors()))

    def freeze(self):
        """Stop the server's processes (SIGSTOP): connections are still
        accepted by the kernel, and nothing answers, as with a hung
        server; thaw() lets it go on with what it was sent meanwhile.
        The processes the server started out of its group (sshd's
        connections) are stopped too."""
        self._frozen = _stop_family(self.proc.pid)
        if self._frozen is None:
            raise RuntimeError("%s did not stop: %r" % (
                self.name, _group_states(self.proc.pid)))

    def thaw(self):
        family = _family(self.proc.pid)
        family.update(getattr(self, "_frozen", None) or {})
        self._frozen = None
        _signal_family(self.proc.pid, family, signal.SIGCONT)

    def stop(self):
        if self.proc is not None:
            self.thaw()
        self._kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


class Apache(Server):
    """One running Apache httpd; see the module docstring."""

    name = "apache"

    def __init__(self, root_dir, tls=False, user=None, password=None,
                 digest=False):
        super().__init__(root_dir)
        self.tls = tls
        self.digest = digest
        os.makedirs(os.path.join(self.tmp, "lock"))
        if tls:
            self._make_cert()
        auth = self._make_auth(user, password) if user is not None else ""
        self._finish_start(auth)

    def _make_auth(self, user, password):
        path = os.path.join(self.tmp, "passwords")
        if self.digest:
            ha1 = hashlib.md5(("%s:%s:%s" % (user, REALM, password))
                              .encode()).hexdigest()
            with open(path, "w") as f:
                f.write("%s:%s:%s\n" % (user, REALM, ha1))
            kind = "Digest\n  AuthDigestProvider file"
        else:
            subprocess.run(["htpasswd", "-c", "-i", "-m", path, user],
                           input=(password or "").encode(), check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            kind = "Basic\n  AuthBasicProvider file"
        return ('  AuthType %s\n  AuthName "%s"\n  AuthUserFile "%s"\n'
                "  Require valid-user\n" % (kind, REALM, path))

    def _config(self, auth):
        mods = ["mpm_event", "authz_core", "alias", "dav", "dav_fs"]
        if auth:
            mods += ["authn_core", "authn_file", "authz_user",
                     "auth_digest" if self.digest else "auth_basic"]
        if self.tls:
            mods += ["socache_shmcb", "ssl"]
        lines = ["LoadModule %s_module %s/mod_%s.so" % (m, MODULES, m)
                 for m in mods]
        t = self.tmp
        lines += [
            'ServerRoot "%s"' % t, "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % self.port,
            'PidFile "%s/httpd.pid"' % t, 'DefaultRuntimeDir "%s"' % t,
            'ErrorLog "%s"' % self.errlog, "LogLevel warn",
            'LogFormat "%s" relay' % LOG_FORMAT,
            'CustomLog "%s" relay' % self.log,
            'LogFormat "%s" conn' % CONN_FORMAT,
            'CustomLog "%s" conn' % self.connlog,
            'LogFormat "%s" timed' % TIMED_FORMAT,
            'CustomLog "%s" timed' % self.timedlog,
            'DAVLockDB "%s/lock/DAVLock"' % t,
            "LimitRequestBody 0", "KeepAlive On", "MaxKeepAliveRequests 0",
            "KeepAliveTimeout 60", "Timeout 60",
            "StartServers 1", "ServerLimit 4", "ThreadsPerChild 16",
            "MaxRequestWorkers 64",
            'Alias /dav "%s"' % self.root,
            '<Directory "%s">\n  Dav On\n%s%s</Directory>' % (
                self.root, auth, "" if auth else "  Require all granted\n"),
        ]
        if self.tls:
            lines += ["SSLEngine on",
                      'SSLCertificateFile "%s"' % self.cacert,
                      'SSLCertificateKeyFile "%s"' % self.key,
                      'SSLSessionCache "shmcb:%s/ssl_scache(512000)"' % t]
        return "\n".join(lines) + "\n"

    def _command(self):
        cmd = [APACHE, "-f", self.conf, "-DFOREGROUND"]
        if os.geteuid() != 0:
            return cmd
        www = pwd.getpwnam("www-data")
        for name in os.listdir(self.tmp) + [""]:
            os.chown(os.path.join(self.tmp, name), www.pw_uid, www.pw_gid)
        os.chown(os.path.join(self.tmp, "lock"), www.pw_uid, www.pw_gid)
        return ["setpriv", "--reuid=%d" % www.pw_uid,
                "--regid=%d" % www.pw_gid, "--clear-groups",
                "--inh-caps=+dac_override", "--ambient-caps=+dac_override",
                "--pdeathsig=SIGTERM"] + cmd


def _as_root_user():
    return os.geteuid() == 0


class Nginx(Server):
    """nginx with its dav module and dav_ext (PROPFIND, OPTIONS), as
    nginx-extras ships them; no LOCK (dav_ext_lock_zone unset)."""

    name = "nginx"
    first_request = "1"  # $connection_requests

    def __init__(self, root_dir):
        super().__init__(root_dir)
        self._finish_start()

    def _config(self, auth):
        t = self.tmp
        temps = "\n".join("  %s_temp_path %s/%s;" % (k, t, k) for k in (
            "client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        return """daemon off;
%s
worker_processes 2;
pid %s/nginx.pid;
error_log %s warn;
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
events { worker_connections 256; }
http {
%s
  log_format relay '$request_method $uri $status $body_bytes_sent';
  log_format conn '$connection_requests $request_method $uri';
  access_log %s relay;
  access_log %s conn;
  client_max_body_size 0;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:%d;
    location /dav/ {
      alias %s/;
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw group:rw all:r;
    }
  }
}
""" % ("user root;" if _as_root_user() else "", t, self.errlog, temps,
       self.log, self.connlog, self.port, self.root)

    def _command(self):
        return ["/usr/sbin/nginx", "-c", self.conf, "-p", self.tmp,
                "-e", self.errlog]


class Lighttpd(Server):
    """lighttpd with mod_webdav (its locks and properties in SQLite)."""

    name = "lighttpd"

    def __init__(self, root_dir):
        super().__init__(root_dir)
        self._finish_start()

    def _config(self, auth):
        t = self.tmp
        return """server.modules = ("mod_alias", "mod_webdav", "mod_accesslog")
server.document-root = "%s"
server.bind = "127.0.0.1"
server.port = %d
server.pid-file = "%s/lighttpd.pid"
server.errorlog = "%s"
server.upload-dirs = ("%s")
server.max-keep-alive-requests = 100000
server.max-keep-alive-idle = 60
accesslog.filename = "%s"
accesslog.format = "%%m %%U %%>s %%b"
alias.url = ("/dav" => "%s")
$HTTP["url"] =~ "^/dav($|/)" {
  webdav.activate = "enable"
  webdav.is-readonly = "disable"
  webdav.sqlite-db-name = "%s/webdav.db"
}
""" % (self.root, self.port, t, self.errlog, t, self.log, self.root, t)

    def _command(self):
        return ["/usr/sbin/lighttpd", "-D", "-f", self.conf]

    def requests(self):
        # it writes its access log seconds after the answers
        raise NotImplementedError("lighttpd's access log comes too late")

    connections = timed_requests = requests


class Rclone(Server):
    """rclone serve webdav of a local folder (its in-memory locks); it
    keeps no access log."""

    name = "rclone"

    def __init__(self, root_dir):
        super().__init__(root_dir)
        self._finish_start()

    def _config(self, auth):
        return ""  # an empty rclone.conf: no remotes needed

    def _command(self):
        return ["/usr/bin/rclone", "serve", "webdav", self.root,
                "--config", self.conf,
                "--addr", "127.0.0.1:%d" % self.port, "--baseurl", "/dav",
                # see files the tests put in the folder at once
                "--dir-cache-time", "0s", "--poll-interval", "0",
                "--log-file", self.errlog, "--log-level", "NOTICE"]

    def requests(self):
        raise NotImplementedError("rclone serve keeps no access log")

    connections = timed_requests = requests


# POSIX ACLs as the kernel stores them (linux/posix_acl_xattr.h): written
# straight as xattrs, so that no setfacl is needed
ACL_ACCESS = "system.posix_acl_access"
ACL_DEFAULT = "system.posix_acl_default"
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_MASK, _ACL_OTHER = (
    0x01, 0x02, 0x04, 0x10, 0x20)
_ACL_NO_ID = 0xFFFFFFFF


def _acl(owner, uid, perm, group, other):
    """An ACL: the owner, user uid with perm, the owning group, a mask
    letting both through, the others (each perm 0..7)."""
    entries = [(_ACL_USER_OBJ, owner, _ACL_NO_ID), (_ACL_USER, perm, uid),
               (_ACL_GROUP_OBJ, group, _ACL_NO_ID),
               (_ACL_MASK, perm | group, _ACL_NO_ID),
               (_ACL_OTHER, other, _ACL_NO_ID)]
    return struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", *e) for e in entries)


def _acl_group(path, mode):
    """The owning group's permissions: its ACL entry when path has an ACL
    (the mode's group bits are then the mask), else the mode's."""
    try:
        raw = os.getxattr(path, ACL_ACCESS, follow_symlinks=False)
    except OSError:
        return (mode >> 3) & 7
    for off in range(4, len(raw) - 7, 8):
        tag, perm, _ = struct.unpack_from("<HHI", raw, off)
        if tag == _ACL_GROUP_OBJ:
            return perm
    return (mode >> 3) & 7


def grant(path, uid, recursive=True):
    """Give user uid read and write on path (and, when recursive, on all
    below it) with an ACL entry and a mask letting it through, whatever
    the modes are; folders get it as their default ACL too, so that what
    is created in them later inherits it."""
    todo = [path]
    while todo:
        p = todo.pop()
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            perm = 7
            if recursive:
                try:
                    todo += [os.path.join(p, n) for n in os.listdir(p)]
                except OSError:
                    pass
        elif stat.S_ISREG(mode):
            perm = 6
        else:
            continue   # a symlink's target may be anywhere
        try:
            os.setxattr(p, ACL_ACCESS, _acl((mode >> 6) & 7, uid, perm,
                                            _acl_group(p, mode), mode & 7),
                        follow_symlinks=False)
            if perm == 7:
                os.setxattr(p, ACL_DEFAULT, _acl(7, uid, 7, 5, 5),
                            follow_symlinks=False)
        except FileNotFoundError:
            continue   # gone meanwhile: a lock a mount just released


def _passive_range(size=2000, low=30000, high=60000):
    """A random range of size ports for passive data connections: the
    server picks a free one of them for each (first, last)."""
    first = random.randrange(low, high - size)
    return first, first + size - 1


class PureFtpd(Server):
    """pure-ftpd serving the folder over FTP (tls: FTPS, explicit AUTH TLS,
    required for the session and its data connections) to one virtual
    user, `user` with `password`, chrooted in it (self.url is its root).

    Virtual users cannot be uid 0: it writes as nobody. What the tests
    put in the folder as root stays writable by nobody through POSIX
    ACLs (grant): an entry for nobody on the folder, inherited by what is
    made in it later (its default ACL), and share() puts it back where a
    chmod (shutil.copytree's copystat) narrowed the mask. It logs to
    syslog, which we do not have (a transfer log, -O clf:FILE, would
    delay one data connection in four by a second: none is kept)."""

    name = "pure-ftpd"
    # with its stderr a pipe (no syslog here), one data connection in
    # four waited a second: a file instead
    stderr_to_log = True
    user = "relay"
    password = "relay pass"
    tls_mode = "3"   # -Y 3: no login nor data connection without TLS

    def __init__(self, root_dir, tls=False, quota_kb=None):
        super().__init__(root_dir)
        self.tls = tls
        self.quota_kb = quota_kb   # the user's quota, or None
        self.uid = pwd.getpwnam("nobody").pw_uid
        self.passwd = os.path.join(self.tmp, "pureftpd.passwd")
        self.pdb = os.path.join(self.tmp, "pureftpd.pdb")
        self.pidfile = os.path.join(self.tmp, "pure-ftpd.pid")
        self._make_user()
        if tls:
            self._make_cert()
        self.share()
        self._start("")
        self.url = "%s://127.0.0.1:%d/" % ("ftps" if tls else "ftp",
                                           self.port)

    def _make_user(self):
        # the passwd line pure-pw useradd writes, with a SHA-512 crypt
        # hash: pure-pw's own argon2id makes it and each login take
        # seconds
        digest = subprocess.run(
            ["openssl", "passwd", "-6", "-stdin"], input=self.password.encode(),
            check=True, capture_output=True).stdout.decode().strip()
        nobody = pwd.getpwnam("nobody")
        with open(self.passwd, "w") as f:
            # fields: user, hash, uid, gid, gecos, home, 7 limits, the
            # quota in bytes, 4 more
            f.write("%s:%s:%d:%d::%s/./:::::::%s:::::\n" % (
                self.user, digest, nobody.pw_uid, nobody.pw_gid, self.root,
                self.quota_kb * 1024 if self.quota_kb else ""))
        # -f and -F always: a pure-pw without them writes /etc/pure-ftpd
        subprocess.run(["pure-pw", "mkdb", self.pdb, "-f", self.passwd],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def share(self, path=None):
        """Let nobody write path (a file or folder in the served one, with
        the folders above it) or, without path, all of the folder."""
        if path is None:
            grant(self.root, self.uid)
            return
        path = os.path.abspath(path)
        grant(path, self.uid)
        up = os.path.dirname(path)
        while up.startswith(self.root + os.sep) or up == self.root:
            grant(up, self.uid, recursive=False)
            up = os.path.dirname(up)

    def _config(self, auth):
        self.passive = _passive_range()
        return ""

    def _command(self):
        cmd = ["/usr/sbin/pure-ftpd", "-S", "127.0.0.1,%d" % self.port,
               "-l", "puredb:" + self.pdb, "-E", "-A", "-D", "-H", "-u", "1",
               "-p", "%d:%d" % self.passive, "-g", self.pidfile,
               "-c", "50", "-C", "50", "-L", "100000:32"]
        if self.quota_kb:
            cmd += ["-n", "100000:%d" % max(1, self.quota_kb // 1024)]
        if self.tls:
            cmd += ["-Y", self.tls_mode, "-2", "%s,%s" % (self.cacert,
                                                           self.key)]
        return cmd

    def requests(self):
        raise NotImplementedError("pure-ftpd logs its commands to syslog")

    connections = timed_requests = requests


class Sshd(Server):
    """OpenSSH's sshd with internal-sftp only, on 127.0.0.1, its host key
    and config made for it: root logs in with the key self.identity
    (publickey only), and checks the host with self.known_hosts. self.url
    is "sftp://root@127.0.0.1:PORT" and the served folder's absolute
    path. sshd runs as root, so the tests' files are all writable to it.
    Its log (LogLevel VERBOSE) is self.errlog."""

    name = "sshd"

    def __init__(self, root_dir):
        super().__init__(root_dir)
        self.hostkey = os.path.join(self.tmp, "host_ed25519")
        self.identity = os.path.join(self.tmp, "user_ed25519")
        self.authorized = os.path.join(self.tmp, "authorized_keys")
        self.known_hosts = os.path.join(self.tmp, "known_hosts")
        self.pidfile = os.path.join(self.tmp, "sshd.pid")
        for key in (self.hostkey, self.identity):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", "relayfs-test", "-f", key], check=True,
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        shutil.copyfile(self.identity + ".pub", self.authorized)
        # the privilege separation folder, as sshd.service makes it
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._start("")
        with open(self.hostkey + ".pub") as f:
            kind, blob = f.read().split()[:2]
        with open(self.known_hosts, "w") as f:
            f.write("[127.0.0.1]:%d %s %s\n" % (self.port, kind, blob))
        self.url = "sftp://root@127.0.0.1:%d%s" % (self.port, self.root)

    def _config(self, auth):
        if os.path.exists(self.errlog):
            os.unlink(self.errlog)   # its "Address already in use" is read
        return """Port %d
ListenAddress 127.0.0.1
AddressFamily inet
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin prohibit-password
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
GSSAPIAuthentication no
UsePAM no
UseDNS no
PermitTTY no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitUserEnvironment no
PrintMotd no
PrintLastLog no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp
""" % (self.port, self.hostkey, self.pidfile, self.authorized)

    def _command(self):
        return ["/usr/sbin/sshd", "-D", "-e", "-f", self.conf,
                "-E", self.errlog]

    def requests(self):
        raise NotImplementedError("sshd keeps no request log")

    connections = timed_requests = requests


SERVERS = {"apache": Apache, "nginx": Nginx, "lighttpd": Lighttpd,
           "rclone": Rclone,
           "ftp": PureFtpd,
           "ftps": lambda root_dir: PureFtpd(root_dir, tls=True),
           "sftp": Sshd}


def start_pure_ftpd(root_dir, quota_kb=None):
    """pure-ftpd over plain FTP, its user's quota quota_kb KiB."""
    return PureFtpd(root_dir, quota_kb=quota_kb)


def start_server(kind, root_dir):
    """Start the server kind serving root_dir: a WebDAV one (apache,
    nginx, lighttpd, rclone) at /dav, or pure-ftpd (ftp, ftps) or sshd
    (sftp)."""
    return SERVERS[kind](root_dir)


def start_apache(root_dir, tls=False, user=None, password=None,
                 digest=False):
    """Start Apache serving root_dir at /dav; see the module docstring."""
    return Apache(root_dir, tls=tls, user=user, password=password,
                  digest=digest)


def _serve(argv):
    import argparse
    p = argparse.ArgumentParser(prog="servers.py serve")
    p.add_argument("root")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--digest", action="store_true")
    p.add_argument("--watch-stdin", action="store_true")
    a = p.parse_args(argv)
    stop = lambda *_: sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv = start_apache(a.root, tls=a.tls, user=a.user, password=a.password,
                       digest=a.digest)
    print("url=" + srv.url)
    if srv.cacert:
        print("cacert=" + srv.cacert)
    print("log=" + srv.log)
    print("connlog=" + srv.connlog)
    print("ready", flush=True)
    try:
        if a.watch_stdin:
            while sys.stdin.buffer.read(4096):
                pass
        else:
            while True:
                signal.pause()
    finally:
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "serve":
        sys.exit("usage: servers.py serve ROOT [--tls] [--user U "
                 "--password P] [--digest] [--watch-stdin]")
    _serve(sys.argv[2:])
