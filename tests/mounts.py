"""A test's own small file system: read-only or nearly full, seen only by one command.

``run_on_tmpfs(argv, folder, ...)`` runs ``argv`` in a private mount namespace
(``unshare -m``) where ``folder`` is a fresh tmpfs, read-only or of ``size``
bytes, so a tool meets a real ``EROFS`` or ``ENOSPC``; the rest of the machine
never sees that mount. Where mount namespaces are not allowed (no root, no
``unshare``) the test is skipped, with the reason.
"""
import os
import shlex
import shutil
import subprocess

import pytest


def _can_unshare():
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if probe.returncode:
        return f"mount namespaces are not allowed here ({probe.stderr.strip() or probe.returncode})"
    return None


def run_on_tmpfs(argv, folder, read_only=False, size=1 << 20, setup=(), timeout=120):
    """Run ``argv`` with ``folder`` a fresh tmpfs; returns the ``CompletedProcess``.

    ``setup``: shell commands run inside the namespace after mounting (before
    a read-only remount), e.g. to put files in place.
    """
    reason = _can_unshare()
    if reason:
        pytest.skip(reason)
    os.makedirs(folder, exist_ok=True)
    quoted = shlex.quote(os.fspath(folder))
    steps = [f"mount -t tmpfs -o size={int(size)} tmpfs {quoted}", *setup]
    if read_only:
        steps.append(f"mount -o remount,ro {quoted}")
    steps.append("exec " + shlex.join([os.fspath(a) for a in argv]))
    return subprocess.run(["unshare", "-m", "sh", "-c", " && ".join(steps)],
                          capture_output=True, text=True, timeout=timeout)
