"""Small helpers shared by the integration tests."""

import contextlib
import hashlib
import os
import subprocess
import time


def run(*cmd, check=True, **kw):
    """Run a command, capturing its output as text."""
    return subprocess.run(list(cmd), check=check, capture_output=True,
                          text=True, **kw)


def backends(*names):
    """Decorator: run a test against these backends only."""
    def mark(fn):
        fn.backends = names
        return fn
    return mark


def push(mount, name, data):
    """Write a file through a mount: its close pushes it, and the unlock
    that follows in the background is on the relay once this returns."""
    with open(mount.p(name), "w") as f:
        f.write(data)
    mount.settle()


def wait_for(predicate, seconds):
    """predicate() once it holds, polled for at most seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def bytes_up(mount):
    """The bytes mount has sent to the relay (user.relay.stats)."""
    stats = dict(kv.split("=") for kv in os.getxattr(
        mount.path, "user.relay.stats").decode().split())
    return int(stats["bytes_up"])


def sha512(data):
    return hashlib.sha512(data).hexdigest()


def placeholder(text):
    """Parse a placeholder the simple way a test needs: (meta, pullers)."""
    meta, pullers, in_pullers = {}, [], False
    lines = text.decode().split("\n")
    for line in lines[1:]:
        if not line.strip():
            continue
        if in_pullers:
            pullers.append(line)
        elif line.startswith("---"):
            in_pullers = True
        else:
            k, _, v = line.partition(": ")
            meta[k] = v
    return meta, pullers


@contextlib.contextmanager
def tmpfs(folder, size):
    """A small tmpfs (size like "6m") mounted on folder (made), always
    unmounted: a disk that fills up."""
    folder.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs",
                    str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def wait_until(cond, what, timeout=30):
    """Poll cond() until it holds; fail after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)
