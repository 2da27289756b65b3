"""The real relayfs binary given bad command lines and config files: one
line on stderr starting with "relayfs: ", exit status 1 or 2, never a
signal, never a mount; --help lists every option and --version the version.
"""
import os
import re
import subprocess
import time

import pytest

BIN = os.environ.get("RELAYFS_BIN")
pytestmark = pytest.mark.skipif(not BIN, reason="RELAYFS_BIN is not set")

TIMEOUT = 30

# Every relayfs option; --help must list each.
OPTIONS = [
    "relay", "mountpoint", "config", "client", "pullers", "lock_timeout", "lock_wait", "cache_dir",
    "cache_size", "block_size", "dir_cache", "checksum", "transfers", "timeout",
    "cacert", "insecure", "advisory_locks", "identity", "known_hosts", "user",
    "password_file", "endpoint",
    "region",
]

ERROR, USAGE = 1, 2


def mounts_under(path):
    """Mountpoints below path (from /proc/self/mountinfo)."""
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8",
              errors="replace") as info:
        for line in info:
            mnt = line.split()[4].replace("\\040", " ")
            if mnt.startswith(str(path)):
                found.append(mnt)
    return found


@pytest.fixture
def tree(tmp_path):
    """A scratch tree with private XDG directories; nothing stays mounted."""
    env = dict(os.environ)
    for var, name in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"),
                      ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        (tmp_path / name).mkdir()
        env[var] = str(tmp_path / name)
    (tmp_path / "mnt" / "inner").mkdir(parents=True)
    (tmp_path / "relay").mkdir()
    (tmp_path / "file").write_text("not a directory\n")
    for name, mode in (("open", 0o644), ("groupw", 0o620), ("secret", 0o600)):
        (tmp_path / name).write_text("hunter2\n")
        os.chmod(tmp_path / name, mode)
    (tmp_path / "config" / "relayfs").mkdir()
    yield tmp_path, env
    for mnt in mounts_under(tmp_path):
        subprocess.run(["fusermount3", "-u", "-z", mnt], check=False,
                       timeout=TIMEOUT)
    assert not mounts_under(tmp_path), "a bad command line was mounted"


def run(env, args):
    return subprocess.run([BIN, *args], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=TIMEOUT)


def assert_refused(res, code, needle=None):
    stderr = res.stderr.decode("utf-8", "replace")
    assert res.returncode >= 0, f"killed by signal {-res.returncode}"
    assert res.returncode in (ERROR, USAGE), (res.returncode, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert stderr.endswith("\n"), stderr
    assert lines[0].startswith("relayfs: "), stderr
    if needle is not None:
        assert needle in lines[0], stderr
    assert res.returncode == code, (res.returncode, stderr)
    assert "hunter2" not in stderr
    assert res.stdout == b""


# (id, args, config file text or None, exit status, part of the message);
# "{t}" is the scratch directory.
BAD = [
    ("no-args", [], None, USAGE, "missing mountpoint"),
    ("only-flags", ["-f", "-d"], None, USAGE, "missing mountpoint"),
    ("url-only", ["webdavs://host/relay"], None, USAGE, "missing mountpoint"),
    ("three-args", ["{t}/relay", "{t}/mnt", "x"], None, USAGE,
     "unexpected argument 'x'"),
    ("unknown-long", ["--frobnicate", "{t}/mnt"], None, USAGE,
     "unknown option '--frobnicate'"),
    ("unknown-short", ["-q", "{t}/mnt"], None, USAGE, "unknown option '-q'"),
    ("unknown-o", ["-o", "frobnicate=1", "{t}/mnt"], None, USAGE,
     "unknown option(s): `-o frobnicate=1' (relayfs --help)"),
    ("unknown-o-late", ["{t}/mnt", "-o", "rw,frobnicate"], None, USAGE,
     "unknown option(s): `-o frobnicate'"),
    ("trailing-o", ["{t}/mnt", "-o"], None, USAGE, "-o"),
    ("trailing-relay", ["{t}/mnt", "--relay"], None, USAGE, "--relay"),
    ("needs-value", ["-o", "pullers", "{t}/mnt"], None, USAGE,
     "option 'pullers' needs a value"),
    ("flag-value", ["-o", "allow_other=yes", "{t}/mnt"], None, USAGE,
     "unknown option(s): `-o allow_other=yes'"),
    ("fuse2-only", ["-o", "use_ino", "{t}/mnt"], None, USAGE,
     "unknown option(s): `-o use_ino'"),
    ("fuse-loop-value", ["-o", "max_threads=x", "{t}/mnt"], None, USAGE,
     "invalid parameter in option `max_threads=x'"),
    ("fuse-umask", ["-o", "umask=999", "{t}/mnt"], None, USAGE,
     "invalid parameter in option `umask=999'"),
    ("pullers-junk", ["-o", "pullers=10x", "{t}/mnt"], None, ERROR,
     "relayfs: bad value for pullers: '10x' (a whole number >= 1)"),
    ("pullers-negative", ["-o", "pullers=-1", "{t}/mnt"], None, ERROR,
     "bad value for pullers: '-1'"),
    ("pullers-empty", ["-o", "pullers=", "{t}/mnt"], None, ERROR,
     "bad value for pullers: ''"),
    ("transfers", ["-o", "transfers=65", "{t}/mnt"], None, ERROR,
     "bad value for transfers: '65' (a whole number from 1 to 64)"),
    ("lock-wait", ["-o", "lock_wait=1.5", "{t}/mnt"], None, ERROR,
     "bad value for lock_wait"),
    ("block-size", ["-o", "block_size=3M", "{t}/mnt"], None, ERROR,
     "bad value for block_size: '3M'"),
    ("cache-size", ["-o", "cache_size=big", "{t}/mnt"], None, ERROR,
     "bad value for cache_size: 'big'"),
    ("checksum", ["-o", "checksum=md5", "{t}/mnt"], None, ERROR,
     "bad value for checksum: 'md5'"),
    ("client-slash", ["-o", "client=a/b", "{t}/mnt"], None, ERROR,
     "bad value for client: 'a/b'"),
    ("client-newline", ["-o", "client=a\nb", "{t}/mnt"], None, ERROR,
     "bad value for client"),
    ("max-read", ["-o", "max_read=lots", "{t}/mnt"], None, USAGE,
     "invalid parameter in option `max_read=lots'"),
    ("cacert", ["-o", "cacert={t}/nothere", "{t}/mnt"], None, ERROR,
     "cacert {t}/nothere: No such file or directory"),
    ("password-mode", ["-o", "password_file={t}/open", "{t}/mnt"], None,
     ERROR, "relayfs: password_file {t}/open is readable by others "
     "(mode 0644); chmod 600 it"),
    ("password-group-writable", ["-o", "password_file={t}/groupw",
                                "{t}/mnt"], None, ERROR,
     "is writable by others (mode 0620)"),
    ("mnt-missing", ["{t}/nope"], None, ERROR,
     "relayfs: mountpoint {t}/nope: No such file or directory"),
    ("mnt-file", ["{t}/file"], None, ERROR,
     "mountpoint {t}/file: Not a directory"),
    ("relay-missing", ["{t}/nothere", "{t}/mnt"], None, ERROR,
     "relayfs: relay directory {t}/nothere: No such file or directory"),
    ("relay-file", ["--relay", "file://{t}/file", "{t}/mnt"], None, ERROR,
     "relay directory {t}/file: Not a directory"),
    ("relay-relative", ["relay", "{t}/mnt"], None, ERROR,
     "bad relay URL 'relay'"),
    ("relay-scheme", ["gopher://host/x", "{t}/mnt"], None, ERROR,
     "bad relay URL 'gopher://host/x'"),
    ("relay-no-host", ["-o", "relay=webdavs:///x", "{t}/mnt"], None, ERROR,
     "bad relay URL 'webdavs:///x': no host"),
    ("relay-no-backend", ["s3://b/x", "{t}/mnt"], None, ERROR,
     "unknown scheme (webdav, webdavs, http, https, ftp, ftps, sftp, file)"),
    ("relay-bad-port", ["ftp://host:99999/x", "{t}/mnt"], None, ERROR,
     "bad relay URL"),
    ("relay-credentials", ["webdav://bob:hunter2@:80/x", "{t}/mnt"], None,
     ERROR, "bad relay URL 'webdav://:80/x'"),
    ("relay-is-mnt", ["{t}/mnt", "{t}/mnt"], None, ERROR, "mountpoint"),
    ("relay-in-mnt", ["{t}/mnt/inner", "{t}/mnt"], None, ERROR,
     "inside the mountpoint"),
    ("cache-in-mnt", ["-o", "cache_dir={t}/mnt/cache", "{t}/mnt"], None,
     ERROR, "inside the mountpoint"),
    ("conf-unknown-key", ["{t}/mnt"], "[relay]\nfoo=1\n", ERROR,
     "relayfs: {t}/config/relayfs/relayfs.conf: unknown key 'foo' in "
     "[relay]"),
    ("conf-unknown-group", ["{t}/mnt"], "[mount]\nclient=x\n", ERROR,
     "unknown group [mount]"),
    ("conf-bad-value", ["{t}/mnt"], "[relay]\npullers=many\n", ERROR,
     "relayfs.conf: bad value for pullers: 'many'"),
    ("conf-garbage", ["{t}/mnt"], "not a key file\n", ERROR,
     "{t}/config/relayfs/relayfs.conf: "),
    ("conf-bad-relay", ["{t}/mnt"], "[relay]\nrelay=ftp://\n", ERROR,
     "relayfs.conf: bad relay URL"),
    ("conf-password-mode", ["{t}/mnt"],
     "[relay]\npassword_file={t}/open\n", ERROR, "chmod 600 it"),
]


@pytest.mark.parametrize("args,config,code,needle",
                         [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_refused(tree, args, config, code, needle):
    t, env = tree
    if config is not None:
        (t / "config" / "relayfs" / "relayfs.conf").write_text(
            config.replace("{t}", str(t)))
    res = run(env, [a.replace("{t}", str(t)) for a in args])
    assert_refused(res, code, needle.replace("{t}", str(t)))


def test_config_is_a_directory(tree):
    t, env = tree
    conf = t / "config" / "relayfs" / "relayfs.conf"
    conf.mkdir()
    assert_refused(run(env, [str(t / "mnt")]), ERROR, f"{conf}: ")


# Odd bytes and shapes: refused with one line, never a crash. Items may
# be bytes (not UTF-8); "{t}" is the scratch directory.
ODD = [
    [""],
    ["", ""],
    [",,,"],
    ["-o", ",,,"],
    ["-o", "="],
    ["-o", "\\"],
    ["--relay="],
    ["--relay=", "{t}/nope"],
    ["-o", "relay=", "{t}/nope"],
    ["%s%n%x%s", "{t}/nope"],
    [b"\xff\xfe", b"{t}/mnt"],
    ["-o", b"client=\xff", "{t}/nope"],
    ["x" * 100000],
    ["-o", "a" * 100000, "{t}/mnt"],
    ["-o", ",".join(["rw"] * 5000) + ",bad", "{t}/mnt"],
    ["--", "-o"],
    ["-", "{t}/mnt"],
    ["-o", "cache_size=99999999999999999999T", "{t}/mnt"],
    ["-o", "block_size=0", "{t}/mnt"],
    ["file:///%00", "{t}/mnt"],
    ["file://", "{t}/mnt"],
    ["s3:bucket", "{t}/mnt"],
    ["http://[::1", "{t}/mnt"],
    ["{t}/mnt/\n", "{t}/mnt"],
]


@pytest.mark.parametrize("args", ODD, ids=[str(i) for i in range(len(ODD))])
def test_odd_input(tree, args):
    t, env = tree
    tb = os.fsencode(t)
    argv = [a.replace(b"{t}", tb) if isinstance(a, bytes)
            else os.fsencode(a.replace("{t}", str(t))) for a in args]
    res = run(env, argv)
    assert_refused(res, res.returncode)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(tree, flag):
    _, env = tree
    res = run(env, [flag])
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""
    assert out.startswith("usage: relayfs")
    for name in OPTIONS:
        assert re.search(rf"-o {name}\b", out), f"--help lacks {name}"
    assert "FUSE options" in out
    for name in ("allow_other", "kernel_cache", "max_threads"):
        assert name in out


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(tree, flag):
    _, env = tree
    res = run(env, [flag])
    assert res.returncode == 0, res.stderr
    assert res.stderr == b""
    first = res.stdout.decode().splitlines()[0]
    assert re.fullmatch(r"relayfs \d+\.\d+\.\d+\S*", first), first


def test_help_wins_over_bad_config(tree):
    t, env = tree
    (t / "config" / "relayfs" / "relayfs.conf").write_text("garbage\n")
    res = run(env, ["--help"])
    assert res.returncode == 0
    assert res.stderr == b""


def test_readme_mount_command_uses_the_default_relay(tree):
    # README: scripts/mount.sh MOUNTPOINT mounts the embedded default relay
    # ($XDG_DATA_HOME/relayfs/relay), in the background
    t, env = tree
    script = os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "scripts", "mount.sh")
    mnt = t / "newmnt"  # mount.sh makes it
    res = subprocess.run([script, str(mnt), "-o", "client=alice"], env=env,
                         stdin=subprocess.DEVNULL, capture_output=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr.decode()
    try:
        assert os.path.ismount(mnt)
        (mnt / "hello.txt").write_text("hello\n")
        relay = t / "data" / "relayfs" / "relay"
        assert (relay / "hello.txt").read_text() == "hello\n"
        assert (relay / ".hello.txt.placeholder").exists()
        assert sorted(os.listdir(mnt)) == ["hello.txt"]
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=False,
                       timeout=TIMEOUT)
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and subprocess.run(
            ["pgrep", "-f", str(mnt)], capture_output=True).returncode == 0:
        time.sleep(0.1)
    assert subprocess.run(["pgrep", "-f", str(mnt)]).returncode == 1


def help_options(env):
    out = run(env, ["--help"]).stdout.decode()
    section = out.split("relayfs options:\n", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^    -o ([a-z_]+)", section, re.M))


def test_help_man_page_and_readme_list_the_same_options(tree):
    """--help prints the option table of the code; relayfs.1 and the
    README are written by hand and must not fall behind it."""
    _, env = tree
    source = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    table = help_options(env)
    assert set(OPTIONS) <= table
    with open(os.path.join(source, "doc", "relayfs.1")) as f:
        man = f.read()
    man_options = man.split(".SS relayfs options\n", 1)[1].split(".SS ")[0]
    in_man = set(re.findall(r"^\.TP\n\.BI? ([a-z_]+)", man_options, re.M))
    in_man |= set(re.findall(r'", " ([a-z_]+)=', man_options))
    assert in_man == table, (in_man ^ table)
    with open(os.path.join(source, "README.md")) as f:
        readme = f.read()
    options = readme.split("### Options\n", 1)[1].split("\n### ", 1)[0]
    in_readme = set(re.findall(r"^\| `([a-z_]+)", options, re.M))
    in_readme |= set(re.findall(r"`, `([a-z_]+)=", options))
    assert in_readme == table, (in_readme ^ table)
