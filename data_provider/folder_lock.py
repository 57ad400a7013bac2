"""One writer per output folder.

Every tool that writes a run or output folder holds it while it writes::

    with folder_lock.hold(model_dir, "--model_dir", "train_gqn_draw.py"):
        ...

The lock is ``<folder>/.lock``, locked with ``fcntl.flock`` and holding who
took it (tool, process id, host, start time). A second writer is refused
with a ``FolderBusyError`` (a usage error: one line, exit 2) that names the
holder. The kernel releases the lock when its process ends, however it ends
(``kill -9`` included), so a lock file left by a process that no longer
runs is taken over, with a note naming that process. On a network file
system the lock is the server's; a holder on another host is named, never
taken over by guessing.

Taking the lock is the first write of a tool to its folder, so it also finds
a folder that cannot be written (read-only file system, full disk, no
permission) before anything else happens: ``FolderUnwritableError``, a usage
error naming the flag, the folder and the cause. The folders it had to create
are removed again when the holder lets go and they are still empty, so a run
refused after taking the lock leaves no trace.

The lock file is removed when the holder lets go. A writer that opened the
file just before it was removed would lock a file that no longer has a name;
``hold`` checks that the file it locked is still the one at the path, and
tries again if not.
"""
import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys

from data_provider.cli import UsageError

LOCK_FILE = ".lock"


class FolderBusyError(UsageError):
    """Another process is writing to the folder."""


class FolderUnwritableError(UsageError):
    """The folder cannot be created or written (read-only, full, no permission)."""


def _unwritable(folder, flag, error):
    cause = error.strerror or str(error)
    where = os.fspath(error.filename) if getattr(error, "filename", None) else None
    if where and os.path.abspath(where) not in (os.path.abspath(folder),
                                                 os.path.abspath(os.path.join(folder, LOCK_FILE))):
        cause = f"{where}: {cause}"
    return FolderUnwritableError(f"{flag} {folder} cannot be written: {cause}")


def _missing_parents(folder):
    """The folders ``os.makedirs(folder)`` would create, deepest first."""
    missing, path = [], os.path.abspath(folder)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_empty(folders):
    for path in folders:  # deepest first; stops at the first one that is not empty
        try:
            os.rmdir(path)
        except OSError:
            return


def _to_stderr(line):
    print(line, file=sys.stderr, flush=True)


def _describe(holder):
    if not holder:
        return "another process"
    return (f"{holder.get('tool', 'a tool')} (process {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, started {holder.get('started', '?')})")


def _read(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 65536).decode("utf-8", "replace")
        return json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class FolderLock:
    """The held lock of one folder; ``release()`` lets it go (idempotent)."""

    def __init__(self, folder, fd, previous, created=()):
        self.folder, self._fd, self.previous = folder, fd, previous
        self.path = os.path.join(folder, LOCK_FILE)
        self.created = list(created)  # folders made by acquire, deepest first

    def release(self):
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None
        _remove_empty(self.created)


def acquire(folder, flag, tool, log=None):
    """Lock ``folder`` (created if missing) for this process; returns a ``FolderLock``.

    Raises ``FolderBusyError`` naming the holder when another process holds
    it, ``FolderUnwritableError`` naming the cause when the folder cannot be
    created or written. ``log`` receives the note when a dead holder's lock
    file is taken over (default: stderr).
    """
    created = _missing_parents(folder)
    path = os.path.join(folder, LOCK_FILE)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        _remove_empty(created)
        raise _unwritable(folder, flag, e) from None
    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            _remove_empty(created)
            raise _unwritable(folder, flag, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _read(fd)
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            raise FolderBusyError(f"{flag} {folder} is being written by {_describe(holder)}; "
                                  "wait for it to finish or choose another folder") from None
        if not _same_file(fd, path):  # removed by its last holder after we opened it
            os.close(fd)
            continue
        previous = _read(fd)
        if previous and previous.get("pid") != os.getpid():
            (log or _to_stderr)(f"{flag} {folder}: taking over the lock of {_describe(previous)}, "
                "which no longer runs")
        me = {"tool": tool, "pid": os.getpid(), "host": socket.gethostname(),
              "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}
        lock = FolderLock(folder, fd, previous, created)
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(me).encode())
        except OSError as e:  # a full disk
            lock.release()
            raise _unwritable(folder, flag, e) from None
        return lock
    raise FolderBusyError(f"{flag} {folder}: could not take its lock (it keeps changing)")


@contextlib.contextmanager
def hold(folder, flag, tool, log=None):
    """Hold ``folder``'s lock for the ``with`` block (see ``acquire``)."""
    lock = acquire(folder, flag, tool, log)
    try:
        yield lock
    finally:
        lock.release()
