#!/usr/bin/env python3
"""relayfs benchmark: relayfs against the tools a user would use instead
(curl, rclone mount --vfs-cache-mode full, davfs2), in one run against one
local Apache mod_dav whose files live on tmpfs. Called by scripts/bench.sh,
which installs, builds and cleans up; see that file for the settings.

Each tool, each run, in its own folder of the server:
  1. mount a writer (fresh cache), `cp` the large file in; the time runs
     until the file is on the server (cp returned and the server logged the
     PUT of the content);
  2. `cp -r` the folder of small files in, timed the same way;
  3. read the large file back through the writer's mount, page cache
     dropped: the warm re-read, served by the tool's own cache (a relayfs
     reader's mount hides a file once its pull removed it from the relay,
     so the mount that still has the file is the pusher's);
  4. unmount the writer, mount a reader (another client, fresh cache);
  5. `ls -l` the folder of small files (cold);
  6. `cp` the large file out (cold);
  7. `cp -r` the small files out (cold);
  8. `ls -l` a folder of BENCH_LIST_FILES files another client wrote: made
     once at the start straight on disk, each file with the placeholder
     its pusher would have written beside it, and hard-linked into the
     tool's folder on the server before the reader mounts; the reader has
     never looked at it, so relayfs reads one placeholder per file (cold).
The page cache is dropped before every step. curl does the same in one
process per step (PROPFIND Depth 1 for the listings; no warm re-read).
Requests are counted from Apache's access log.
"""

import filecmp
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from servers import start_apache, start_server  # noqa: E402

SIZE_MB = int(os.environ.get("BENCH_SIZE_MB", "256"))
FILES = int(os.environ.get("BENCH_FILES", "1000"))
SMALL_KB = int(os.environ.get("BENCH_SMALL_KB", "4"))
# the folder another client wrote (step 8): its files and their size
LIST_FILES = int(os.environ.get("BENCH_LIST_FILES", "10000"))
FOREIGN_BYTES = 1024
FOREIGN_PUSHER = "carol"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
TOOLS = os.environ.get(
    "BENCH_TOOLS", "curl relayfs rclone davfs2 curl-ftp relayfs-ftp "
    "curl-sftp relayfs-sftp").replace(",", " ").split()
STEP_TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
# a delayed link (scripts/delay_proxy.py) in front of Apache: every
# WebDAV tool runs again through it, as "TOOL@wan"
RTT_MS = float(os.environ.get("BENCH_RTT_MS", "0"))
WRITEBACK = os.environ.get("BENCH_WRITEBACK", "1")
if RTT_MS > 0:
    TOOLS += [t + "@wan" for t in TOOLS
              if t in ("curl", "relayfs", "relayfs-wb", "rclone", "davfs2")]
WORK = os.environ["BENCH_WORK"]
RELAYFS = os.environ["BENCH_RELAYFS"]

METRICS = [
    ("big_write", "large write, until on server"),
    ("big_cold", "large read, cold"),
    ("big_warm", "large re-read, warm"),
    ("small_write", "small files write, until on server"),
    ("small_read", "small files read, cold"),
    ("ls", "ls -l of the small files, cold"),
    ("ls_foreign", "ls -l of another client's files, cold"),
]
BIG_METRICS = ("big_write", "big_cold", "big_warm")

problems = []      # what went wrong, printed at the end
pid_file = os.path.join(WORK, "pids")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def problem(msg):
    problems.append(msg)
    log("PROBLEM: " + msg)


def record_pid(kind, pid):
    with open(pid_file, "a") as f:
        f.write("%s %d\n" % (kind, pid))


class StepFailed(Exception):
    pass


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run(cmd, timeout=None, **kw):
    """Run a command; StepFailed when it fails or hangs."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=kw.pop("stdout", subprocess.PIPE),
                           stderr=subprocess.PIPE,
                           timeout=timeout or STEP_TIMEOUT, **kw)
    except subprocess.TimeoutExpired:
        raise StepFailed("%s: no answer after %d s (hang)" % (
            " ".join(cmd)[:200], timeout or STEP_TIMEOUT))
    if p.returncode != 0:
        raise StepFailed("%s: exit %d: %s" % (
            " ".join(cmd)[:200], p.returncode,
            p.stderr.decode(errors="replace").strip()[-500:]))
    return p


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


class LogWatch:
    """Follows Apache's access log (truncated by clear_log) to see when
    every expected path has had a successful PUT."""

    def __init__(self, srv):
        self.path = srv.log
        self.offset = 0
        self.buf = b""
        self.put = set()

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(0, 2)
                if f.tell() < self.offset:   # truncated under us
                    self.offset, self.buf = 0, b""
                f.seek(self.offset)
                data = f.read()
                self.offset += len(data)
        except FileNotFoundError:
            return
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            parts = line.decode(errors="replace").split(" ")
            if len(parts) >= 3 and parts[0] == "PUT" and parts[-2][:1] == "2":
                self.put.add(" ".join(parts[1:-2]))

    def wait_puts(self, paths, deadline):
        paths = set(paths)
        while True:
            self.poll()
            if paths <= self.put:
                return
            if time.monotonic() > deadline:
                missing = sorted(paths - self.put)
                raise StepFailed("%d of %d files not on the server after "
                                 "%d s (first: %s)" % (
                                     len(missing), len(paths),
                                     STEP_TIMEOUT, missing[0]))
            time.sleep(0.005)


def same_file(a, b):
    return filecmp.cmp(a, b, shallow=False)


def same_tree(src, dst, names):
    bad = [n for n in names
           if not os.path.isfile(os.path.join(dst, n))
           or not same_file(os.path.join(src, n), os.path.join(dst, n))]
    return bad


class Tool:
    """One tool's mounts; subclasses say how to mount and unmount, and
    which server they talk to (Apache, or pure-ftpd for "ftp", sshd for
    "sftp")."""
    name = "?"
    warm = True
    server = "apache"

    def __init__(self, bench, run_no, wan=False):
        self.b = bench
        self.run_no = run_no
        if wan:
            self.name += "@wan"
        self.sub = "%s%d" % (self.name.replace("@", "-"), run_no)
        self.srv = bench.server_for(self.server)
        base = bench.wan_url if wan else self.srv.url
        self.url = base.rstrip("/") + "/" + self.sub
        self.dir = os.path.join(WORK, "t", self.sub)
        os.makedirs(self.dir)
        self.mnt = None
        self.proc = None
        self.logf = None

    def path(self, rel):
        return os.path.join(self.mnt, rel)

    # -- mounts -----------------------------------------------------------
    def _spawn(self, cmd, who):
        mnt = os.path.join(self.dir, "mnt-" + who)
        os.makedirs(mnt)
        logpath = os.path.join(self.dir, who + ".log")
        self.logf = open(logpath, "wb")
        self.proc = subprocess.Popen(cmd + [mnt] if cmd[-1] != "@MNT" else
                                     cmd[:-1] + [mnt],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        record_pid(self.name, self.proc.pid)
        deadline = time.monotonic() + 30
        while not mounted(mnt):
            if self.proc.poll() is not None:
                raise StepFailed("%s exited with %d before mounting: %s" % (
                    self.name, self.proc.returncode, tail(logpath)))
            if time.monotonic() > deadline:
                raise StepFailed("%s did not mount in 30 s" % self.name)
            time.sleep(0.02)
        self.mnt = mnt
        self.logpath = logpath

    def _fuse_umount(self):
        mnt, self.mnt = self.mnt, None
        if mnt and mounted(mnt):
            r = subprocess.run(["fusermount3", "-u", mnt],
                               stderr=subprocess.PIPE, timeout=60)
            if r.returncode != 0:
                problem("%s: fusermount3 -u failed (%s); lazy unmount" % (
                    self.name, r.stderr.decode().strip()))
                subprocess.run(["fusermount3", "-uz", mnt])
        if self.proc:
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                problem("%s (pid %d) still running 60 s after unmount; "
                        "killed" % (self.name, self.proc.pid))
                self.proc.kill()
                self.proc.wait()
            if self.proc.returncode not in (0, -signal.SIGTERM):
                problem("%s exited with %d; log %s: %s" % (
                    self.name, self.proc.returncode, self.logpath,
                    tail(self.logpath)))
            self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def mount_writer(self):
        raise NotImplementedError

    def mount_reader(self):
        raise NotImplementedError

    def umount(self):
        self._fuse_umount()

    # -- steps ------------------------------------------------------------
    def write_big(self):
        run(["cp", self.b.big, self.path("big")])

    def write_small(self):
        run(["cp", "-r", self.b.small, self.path("small")])

    def read_big(self, dst):
        run(["cp", self.path("big"), dst])

    def read_small(self, dst):
        run(["cp", "-r", self.path("small"), dst])

    def list_small(self):
        return self._ls("small")

    def list_foreign(self):
        return self._ls("foreign")

    def _ls(self, rel):
        """The entries `ls -l` shows in folder rel of the mount."""
        out = run(["ls", "-l", self.path(rel)]).stdout.decode()
        return sum(1 for line in out.splitlines()
                   if not line.startswith("total"))


def tail(path, n=5):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


class Relayfs(Tool):
    name = "relayfs"
    options = ""

    def _mount(self, client):
        opts = "client=%s,cache_dir=%s%s" % (
            client, os.path.join(self.dir, "cache-" + client), self.options)
        if SIZE_MB * 2 > 900:
            opts += ",cache_size=%dM" % (SIZE_MB * 2 + 128)
        url = self.url.replace("http://", "webdav://", 1)
        self._spawn([RELAYFS, "-f", "-o", opts, url], client)

    def mount_writer(self):
        self._mount("alice")

    def mount_reader(self):
        self._mount("bob")


class RelayfsWriteback(Relayfs):
    """relayfs with -o writeback=BENCH_WRITEBACK (1): close returns once
    the copy is on disk; a write is counted until its PUT is in the
    server's log and no lock is left."""
    name = "relayfs-wb"
    options = ",writeback=" + WRITEBACK


class Rclone(Tool):
    name = "rclone"

    def _mount(self, who):
        self._spawn(["rclone", "mount", ":webdav,url='%s':" % self.url,
                     "--vfs-cache-mode", "full",
                     "--cache-dir", os.path.join(self.dir, "cache-" + who),
                     "@MNT"], who)

    def mount_writer(self):
        self._mount("writer")

    def mount_reader(self):
        self._mount("reader")


class Davfs2(Tool):
    name = "davfs2"

    def _mount(self, who):
        cache = os.path.join(self.dir, "cache-" + who)
        os.makedirs(cache)
        shutil.chown(cache, "root", "davfs2")
        os.chmod(cache, 0o775)
        secrets = os.path.join(self.dir, "secrets")
        with open(secrets, "w") as f:
            f.write('%s/ "" ""\n' % self.url)
        os.chmod(secrets, 0o600)
        conf = os.path.join(self.dir, "davfs2-%s.conf" % who)
        with open(conf, "w") as f:
            if kernel_at_least(6, 16):   # else ls fails with EINVAL
                f.write("buf_size 64\n")
            f.write("delay_upload 0\n")
            f.write("cache_size %d\n" % (SIZE_MB * 2 + 256))
            f.write("cache_dir %s\n" % cache)
            f.write("secrets %s\n" % secrets)
        mnt = os.path.join(self.dir, "mnt-" + who)
        os.makedirs(mnt)
        self.logpath = os.path.join(self.dir, who + ".log")
        with open(self.logpath, "wb") as lf:
            r = subprocess.run(["mount", "-t", "davfs", "-o", "conf=" + conf,
                                self.url + "/", mnt],
                               stdin=subprocess.DEVNULL, stdout=lf,
                               stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0 or not mounted(mnt):
            raise StepFailed("davfs2 mount failed (%d): %s" % (
                r.returncode, tail(self.logpath)))
        self.mnt = mnt

    def mount_writer(self):
        self._mount("writer")

    def mount_reader(self):
        self._mount("reader")

    def umount(self):
        mnt, self.mnt = self.mnt, None
        if mnt and mounted(mnt):
            r = subprocess.run(["umount", mnt], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=STEP_TIMEOUT)
            if r.returncode != 0:
                problem("davfs2: umount failed: %s; lazy unmount" %
                        r.stdout.decode().strip())
                subprocess.run(["umount", "-l", mnt])


def kernel_at_least(major, minor):
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (major, minor)


class Curl(Tool):
    """curl straight to the server, one process per step (connections
    reused inside it)."""
    name = "curl"
    warm = False

    def mount_writer(self):
        self.mnt = None

    mount_reader = mount_writer

    def umount(self):
        pass

    def _curl(self, config_lines):
        cfg = os.path.join(self.dir, "curl.cfg")
        with open(cfg, "w") as f:
            f.write("silent\nshow-error\nfail\n")
            f.write("\n".join(config_lines) + "\n")
        run(["curl", "-K", cfg])

    @staticmethod
    def q(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')

    def write_big(self):
        self._curl(["upload-file = " + self.q(self.b.big),
                    "url = " + self.q(self.url + "/big")])

    def write_small(self):
        lines = ['request = "MKCOL"', "url = " + self.q(self.url + "/small/"),
                 "next"]
        for n in self.b.small_names:
            lines += ["upload-file = " + self.q(os.path.join(self.b.small, n)),
                      "url = " + self.q(self.url + "/small/" + n)]
        self._curl(lines)

    def read_big(self, dst):
        self._curl(["url = " + self.q(self.url + "/big"),
                    "output = " + self.q(dst)])

    def read_small(self, dst):
        os.makedirs(dst)
        lines = []
        for n in self.b.small_names:
            lines += ["url = " + self.q(self.url + "/small/" + n),
                      "output = " + self.q(os.path.join(dst, n))]
        self._curl(lines)

    def _ls(self, rel):
        """One PROPFIND Depth 1 of folder rel: the members it lists, but
        the folder itself and dot files (the placeholders beside another
        client's files), as `ls -l` would show them."""
        out = os.path.join(self.dir, "propfind.xml")
        url = self.url + "/" + rel + "/"
        self._curl(['request = "PROPFIND"', 'header = "Depth: 1"',
                    "url = " + self.q(url), "output = " + self.q(out)])
        with open(out, errors="replace") as f:
            hrefs = re.findall(r"<D:href>([^<]*)</D:href>", f.read())
        top = urllib.parse.urlsplit(url).path.rstrip("/")
        paths = [urllib.parse.unquote(urllib.parse.urlsplit(h).path)
                 .rstrip("/") for h in hrefs]
        return sum(1 for p in paths
                   if p != top and not p.rsplit("/", 1)[-1].startswith("."))


class RelayfsFtp(Relayfs):
    """relayfs on pure-ftpd over FTP (its user and password)."""
    name = "relayfs-ftp"
    server = "ftp"

    def _mount(self, client):
        pw = os.path.join(self.dir, "password")
        size = (",cache_size=%dM" % (SIZE_MB * 2 + 128)
                if SIZE_MB * 2 > 900 else "")
        with open(pw, "w") as f:
            f.write(self.srv.password + "\n")
        os.chmod(pw, 0o600)
        self._spawn([RELAYFS, "-f", "-o", "client=%s,cache_dir=%s,user=%s,"
                     "password_file=%s" % (
                         client, os.path.join(self.dir, "cache-" + client),
                         self.srv.user, pw) + size, self.url], client)


class RelayfsSftp(Relayfs):
    """relayfs on OpenSSH's sshd over SFTP (a key and known_hosts)."""
    name = "relayfs-sftp"
    server = "sftp"

    def _mount(self, client):
        self._spawn([RELAYFS, "-f", "-o", "client=%s,cache_dir=%s,"
                     "identity=%s,known_hosts=%s" % (
                         client, os.path.join(self.dir, "cache-" + client),
                         self.srv.identity, self.srv.known_hosts),
                     self.url], client)


class CurlFtp(Curl):
    """curl over FTP to pure-ftpd, one process per step (its control
    connection reused inside it; LIST for the listing)."""
    name = "curl-ftp"
    server = "ftp"

    def _curl(self, config_lines):
        Curl._curl(self, ["user = " + self.q("%s:%s" % (
            self.srv.user, self.srv.password))] + self._between(
                config_lines, ["user = " + self.q("%s:%s" % (
                    self.srv.user, self.srv.password))]))

    @staticmethod
    def _between(lines, extra):
        """The options of every URL after a "next" again."""
        out = []
        for line in lines:
            out.append(line)
            if line == "next":
                out += extra
        return out

    def write_small(self):
        lines = []
        for n in self.b.small_names:
            lines += ["ftp-create-dirs",
                      "upload-file = " + self.q(os.path.join(self.b.small, n)),
                      "url = " + self.q(self.url + "/small/" + n)]
        self._curl(lines)

    def _ls(self, rel):
        """One LIST of folder rel: its entries but dot files (".", ".."
        and the placeholders beside another client's files), as `ls -l`
        would show them."""
        out = os.path.join(self.dir, "list.txt")
        self._curl(["url = " + self.q(self.url + "/" + rel + "/"),
                    "output = " + self.q(out)])
        with open(out, errors="replace") as f:
            names = [line.split()[-1] for line in f if line.split()]
        return sum(1 for n in names if not n.startswith("."))


class CurlSftp(CurlFtp):
    """curl over SFTP to sshd (its key; the host is the test's own)."""
    name = "curl-sftp"
    server = "sftp"

    def _curl(self, config_lines):
        extra = ["insecure", "key = " + self.q(self.srv.identity)]
        Curl._curl(self, extra + self._between(config_lines, extra))


TOOL_CLASSES = {c.name: c for c in (Curl, Relayfs, RelayfsWriteback, Rclone,
                                    Davfs2, CurlFtp, RelayfsFtp, CurlSftp,
                                    RelayfsSftp)}


class Bench:
    def __init__(self):
        self.srcdir = os.path.join(WORK, "src")
        self.big = os.path.join(self.srcdir, "big")
        self.small = os.path.join(self.srcdir, "small")
        self.foreign = os.path.join(self.srcdir, "foreign")
        self.root = os.path.join(WORK, "root")
        self.out = os.path.join(WORK, "out")
        self.times = {t: {m: [] for m, _ in METRICS} for t in TOOLS}
        self.reqs = {t: {m: [] for m, _ in METRICS} for t in TOOLS}
        self.kinds = {t: {m: {} for m, _ in METRICS} for t in TOOLS}
        self.conns = {t: {m: [] for m, _ in METRICS} for t in TOOLS}
        self.srv = None
        self.servers = {}
        self.wan_url = None
        self.proxy = None

    def server_for(self, kind):
        """The server of kind, started at its first use (files on tmpfs
        too, each in a folder of its own)."""
        if kind == "apache":
            return self.srv
        if kind not in self.servers:
            root = os.path.join(WORK, "root-" + kind)
            os.makedirs(root)
            srv = self.servers[kind] = start_server(kind, root)
            record_pid(kind, srv.proc.pid)
            log("bench: %s at %s" % (srv.name, srv.url))
        return self.servers[kind]

    def start_proxy(self):
        """scripts/delay_proxy.py between the @wan tools and Apache."""
        import socket
        import urllib.parse
        u = urllib.parse.urlsplit(self.srv.url)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proxy = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "delay_proxy.py"),
             str(port), u.hostname, str(u.port), str(RTT_MS)],
            stdout=subprocess.PIPE)
        record_pid("proxy", self.proxy.pid)
        self.proxy.stdout.readline()    # listening
        self.wan_url = u._replace(netloc="%s:%d" % (
            u.netloc.rsplit(":", 1)[0], port)).geturl()
        log("bench: %.0f ms round trip through %s" % (RTT_MS, self.wan_url))

    def make_sources(self):
        os.makedirs(self.small)
        with open(self.big, "wb") as f:
            for _ in range(SIZE_MB):
                f.write(os.urandom(1 << 20))
        self.small_names = ["f%05d" % i for i in range(FILES)]
        for n in self.small_names:
            with open(os.path.join(self.small, n), "wb") as f:
                f.write(os.urandom(SMALL_KB * 1024))
        self.make_foreign()

    def make_foreign(self):
        """The folder another relay client wrote, made once, straight on
        disk: LIST_FILES files of FOREIGN_BYTES, each with the placeholder
        its pusher would have left beside it (PROTOCOL.md: pusher,
        timestamp = the file's mtime, sha512, no pullers yet; no newline at
        the end, as escale writes it)."""
        os.makedirs(self.foreign)
        stamp = int(time.time()) - 3600
        for i in range(LIST_FILES):
            name = "f%05d" % i
            data = os.urandom(FOREIGN_BYTES)
            path = os.path.join(self.foreign, name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (stamp, stamp))
            with open(os.path.join(self.foreign, ".%s.placeholder" % name),
                      "w") as f:
                f.write("placeholder%%1.0\npusher: %s\ntimestamp: %d\n"
                        "checksum: %s\n---pullers---" % (
                            FOREIGN_PUSHER, stamp,
                            hashlib.sha512(data).hexdigest()))

    def put_foreign(self, tool, server_dir):
        """Another client's folder in the tool's folder on the server, as
        "foreign": hard links to the one make_foreign made (fast, and no
        second copy on the tmpfs), put there before the reader mounts."""
        dst = os.path.join(server_dir, "foreign")
        os.makedirs(dst)
        for n in os.listdir(self.foreign):
            os.link(os.path.join(self.foreign, n), os.path.join(dst, n))
        if hasattr(tool.srv, "share"):
            tool.srv.share(dst)         # pure-ftpd reads as nobody

    def measure(self, tool, metric, fn, expect_puts=None, no_locks_in=None):
        """Time fn() (until expect_puts are all on the server, when given,
        and no lock file is left under no_locks_in) and count the requests
        it made."""
        drop_caches()
        if tool.server != "apache":
            # no access log: a write is on the server once cp returned
            # (relayfs's close returns the push's result)
            t0 = time.monotonic()
            result = fn()
            self.times[tool.name][metric].append(time.monotonic() - t0)
            log("  %-12s run %d %-12s %8.3f s" % (
                tool.name, tool.run_no + 1, metric,
                self.times[tool.name][metric][-1]))
            return result
        self.srv.clear_log()
        watch = LogWatch(self.srv)
        t0 = time.monotonic()
        result = fn()
        if expect_puts:
            watch.wait_puts(expect_puts, t0 + STEP_TIMEOUT)
        while no_locks_in and any(
                n.endswith(".lock") for _, _, names in os.walk(no_locks_in)
                for n in names):
            if time.monotonic() > t0 + STEP_TIMEOUT:
                raise StepFailed("locks left on the server")
            time.sleep(0.005)
        dt = time.monotonic() - t0
        reqs = self.srv.requests()
        kinds = {}
        for method, _path, _status in reqs:
            kinds[method] = kinds.get(method, 0) + 1
        self.times[tool.name][metric].append(dt)
        self.reqs[tool.name][metric].append(len(reqs))
        self.kinds[tool.name][metric] = kinds
        self.conns[tool.name][metric].append(self.srv.connections())
        log("  %-8s run %d %-12s %8.3f s %6d requests %s" % (
            tool.name, tool.run_no + 1, metric, dt, len(reqs),
            " ".join("%s=%d" % kv for kv in sorted(kinds.items()))))
        return result

    def one(self, name, run_no):
        base, _, link = name.partition("@")
        tool = TOOL_CLASSES[base](self, run_no, wan=bool(link))
        server_dir = os.path.join(tool.srv.root, tool.sub)
        os.makedirs(server_dir)
        if hasattr(tool.srv, "share"):
            tool.srv.share(server_dir)   # pure-ftpd writes as nobody
        prefix = "/dav/%s/" % tool.sub
        # writeback: counted until the relay holds every file and no lock
        unlocked = server_dir if tool.name.startswith("relayfs-wb") else None
        out = os.path.join(self.out, tool.sub)
        os.makedirs(out)
        step = "mount"
        try:
            tool.mount_writer()
            step = "big_write"
            self.measure(tool, step, tool.write_big, [prefix + "big"],
                         unlocked)
            if not same_file(self.big, os.path.join(server_dir, "big")):
                problem("%s run %d: large file on the server differs from "
                        "the source" % (name, run_no + 1))
            step = "small_write"
            self.measure(tool, step, tool.write_small,
                         [prefix + "small/" + n for n in self.small_names],
                         unlocked)
            bad = same_tree(self.small, os.path.join(server_dir, "small"),
                            self.small_names)
            if bad:
                problem("%s run %d: %d small files wrong on the server "
                        "(first %s)" % (name, run_no + 1, len(bad), bad[0]))
            if tool.warm:
                step = "big_warm"
                dst = os.path.join(out, "big-warm")
                self.measure(tool, step, lambda: tool.read_big(dst))
                if not same_file(self.big, dst):
                    problem("%s run %d: warm re-read gave wrong bytes" % (
                        name, run_no + 1))
                os.unlink(dst)
            step = "umount writer"
            tool.umount()
            step = "foreign folder"
            self.put_foreign(tool, server_dir)
            step = "mount reader"
            tool.mount_reader()
            step = "ls"
            n = self.measure(tool, step, tool.list_small)
            if n != FILES:
                problem("%s run %d: ls -l listed %d entries, expected %d" % (
                    name, run_no + 1, n, FILES))
            step = "big_cold"
            dst = os.path.join(out, "big-cold")
            self.measure(tool, step, lambda: tool.read_big(dst))
            if not same_file(self.big, dst):
                problem("%s run %d: cold read gave wrong bytes" % (
                    name, run_no + 1))
            os.unlink(dst)
            step = "small_read"
            dst = os.path.join(out, "small")
            self.measure(tool, step, lambda: tool.read_small(dst))
            bad = same_tree(self.small, dst, self.small_names)
            if bad:
                problem("%s run %d: %d small files read wrong (first %s)" % (
                    name, run_no + 1, len(bad), bad[0]))
            # last, so that the steps above run as they did without it; the
            # reader has not looked into the folder yet
            step = "ls_foreign"
            n = self.measure(tool, step, tool.list_foreign)
            if n != LIST_FILES:
                problem("%s run %d: ls -l of another client's folder listed "
                        "%d entries, expected %d" % (
                            name, run_no + 1, n, LIST_FILES))
            step = "umount reader"
            tool.umount()
        except StepFailed as e:
            problem("%s run %d, step %s: %s" % (name, run_no + 1, step, e))
        finally:
            try:
                tool.umount()
            except Exception as e:      # keep going: the others must run
                problem("%s run %d: unmount: %s" % (name, run_no + 1, e))
            shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(server_dir, ignore_errors=True)

    def main(self):
        t_start = time.monotonic()
        log("bench: %d MiB large file, %d files of %d KiB, %d files of "
            "another client, %d runs, tools: %s; work dir %s" % (
                SIZE_MB, FILES, SMALL_KB, LIST_FILES, RUNS, " ".join(TOOLS),
                WORK))
        self.make_sources()
        os.makedirs(self.root)
        self.srv = start_apache(self.root)
        record_pid("apache", self.srv.proc.pid)
        log("bench: Apache at %s" % self.srv.url)
        if RTT_MS > 0:
            self.start_proxy()
        try:
            for r in range(RUNS):
                # rotate the order so that no tool always runs first
                order = TOOLS[r % len(TOOLS):] + TOOLS[:r % len(TOOLS)]
                for name in order:
                    self.one(name, r)
        finally:
            if self.proxy:
                self.proxy.terminate()
                self.proxy.wait()
            self.srv.stop()
            for srv in self.servers.values():
                srv.stop()
        self.report(time.monotonic() - t_start)
        return 1 if problems else 0

    # -- output -------------------------------------------------------------
    def label(self, metric, text):
        if metric in BIG_METRICS:
            return "%s (%d MiB)" % (text, SIZE_MB)
        if metric.startswith("small"):
            return "%s (%d x %d KiB)" % (text, FILES, SMALL_KB)
        if metric == "ls_foreign":
            return "%s (%d)" % (text, LIST_FILES)
        return "%s (%d)" % (text, FILES)

    def med(self, tool, metric):
        v = self.times[tool][metric]
        return statistics.median(v) if v else None

    def report(self, elapsed):
        w = max(len(self.label(m, t)) for m, t in METRICS)
        col = 16

        def table(title, header, rows):
            print()
            print(title)
            print("| %-*s | %s |" % (w, "", " | ".join(
                "%*s" % (col, h) for h in header)))
            print("|-%s-|%s" % ("-" * w, "".join(
                "-" * (col + 2) + "|" for _ in header)))
            for label, cells in rows:
                print("| %-*s | %s |" % (w, label, " | ".join(
                    "%*s" % (col, c) for c in cells)))

        rows = []
        for m, text in METRICS:
            cells = []
            for t in TOOLS:
                v = self.med(t, m)
                if v is None:
                    cells.append("-")
                    continue
                s = "%.3f" % v
                if m in BIG_METRICS and v > 0:
                    s = "%.3f %5.0fM/s" % (v, SIZE_MB / v)
                n = len(self.times[t][m])
                if n < RUNS:
                    s += " [%d]" % n
                cells.append(s)
            rows.append((self.label(m, text), cells))
        table("Seconds, median of %d runs (M/s = MiB/s; [n] = only n runs "
              "succeeded)" % RUNS, TOOLS, rows)
        print("Writes: until cp returned and the server logged the content's "
              "PUT. Cold: fresh mount of\nanother client, empty cache. "
              "Warm: read back through the writer's mount, from its cache\n"
              "(a relayfs reader no longer shows a file its pull removed from "
              "the relay). Page cache\ndropped before every step. curl: one process per "
              "step, PROPFIND Depth 1 for the listings.\nAnother client's "
              "files: %d files of %d bytes, each with its placeholder (pusher "
              "%s),\nput on the server before the reader mounted; relayfs "
              "reads one placeholder per file." % (
                  LIST_FILES, FOREIGN_BYTES, FOREIGN_PUSHER))

        pairs = [("relayfs-ftp", "curl-ftp"), ("relayfs-sftp", "curl-sftp")]
        pairs = [p for p in pairs if p[0] in TOOLS and p[1] in TOOLS]
        if pairs:
            rows = []
            for m, text in METRICS:
                cells = []
                for r_tool, c_tool in pairs:
                    r, o = self.med(r_tool, m), self.med(c_tool, m)
                    cells.append("%.2f" % (r / o) if r is not None and o
                                 else "-")
                rows.append((self.label(m, text), cells))
            table("Ratios on FTP and SFTP: relayfs time / curl's, same "
                  "server", ["%s/%s" % p for p in pairs], rows)

        for link, title in (("", "loopback"),
                            ("@wan", "%.0f ms round trip" % RTT_MS)):
            mine = [t for t in ("relayfs" + link, "relayfs-wb" + link)
                    if t in TOOLS]
            others = [t for t in TOOLS if t.endswith(link) and
                      (link or "@" not in t) and
                      not t.startswith("relayfs") and
                      TOOL_CLASSES[t.split("@")[0]].server == "apache"]
            pairs = [(r, o) for r in mine for o in others]
            if not pairs:
                continue
            rows = []
            for m, text in METRICS:
                cells = []
                for r_tool, o_tool in pairs:
                    r, o = self.med(r_tool, m), self.med(o_tool, m)
                    cells.append("%.2f" % (r / o) if r is not None and o
                                 else "-")
                rows.append((self.label(m, text), cells))
            table("Ratios, %s: relayfs time / other tool's time (below 1: "
                  "relayfs is faster)" % title,
                  ["%s/%s" % p for p in pairs], rows)

        rows = []
        for m, text in METRICS:
            cells = []
            for t in TOOLS:
                v = self.reqs[t][m]
                cells.append("%d" % statistics.median(v) if v else "-")
            rows.append((self.label(m, text), cells))
        table("Requests to the server (median; from Apache's access log)",
              TOOLS, rows)

        print()
        print("Requests by method (last run), and new TCP connections:")
        for t in TOOLS:
            for m, _ in METRICS:
                k = self.kinds[t][m]
                if not k:
                    continue
                c = self.conns[t][m]
                print("  %-8s %-12s %s; %d new connection(s)" % (
                    t, m, " ".join("%s %d" % kv for kv in sorted(k.items())),
                    c[-1] if c else 0))

        print()
        print("Versions: " + "; ".join(versions()))
        print("Total time %.0f s. Large file %d MiB, %d small files of %d "
              "KiB, %d files of another client, server files on %s." % (
                  elapsed, SIZE_MB, FILES, SMALL_KB, LIST_FILES,
                  fs_type(WORK)))
        if problems:
            print()
            print("PROBLEMS (%d):" % len(problems))
            for p in problems:
                print("  - " + p)
        out = os.environ.get("BENCH_JSON")
        if out:
            with open(out, "w") as f:
                json.dump({"size_mb": SIZE_MB, "files": FILES,
                           "small_kb": SMALL_KB, "list_files": LIST_FILES,
                           "runs": RUNS,
                           "times": self.times, "requests": self.reqs,
                           "problems": problems}, f, indent=1)


def versions():
    out = ["kernel " + os.uname().release, "%d cpus" % os.cpu_count()]
    for cmd, pat in ((["curl", "--version"], r"curl \S+"),
                     (["rclone", "version"], r"rclone \S+"),
                     (["mount.davfs", "-V"], r"davfs2 \S+"),
                     (["apache2", "-v"], r"Apache/\S+"),
                     (["fusermount3", "-V"], r"version: \S+")):
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=10)
            m = re.search(pat, p.stdout.decode(errors="replace"))
            if m:
                out.append(m.group(0).replace("version: ", "fuse "))
        except (OSError, subprocess.TimeoutExpired):
            pass
    return out


def fs_type(path):
    best, kind = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            p = line.split()
            if path.startswith(p[1].rstrip("/") + "/") and len(p[1]) > len(best):
                best, kind = p[1], p[2]
    return kind


def main():
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    record_pid("group", os.getpgrp())
    return Bench().main()


if __name__ == "__main__":
    sys.exit(main())
