"""One writer per folder: a second one is refused naming the holder; a dead holder's lock is
taken over. A failed run's folder is put back; a resumed run's history is trimmed."""
import errno
import json
import os
import subprocess
import sys
import textwrap

import mounts  # tests/mounts.py (pytest puts tests/ on the path)
import pytest

from data_provider import cli, folder_lock

HOLD = textwrap.dedent("""
    import sys, time
    from data_provider import folder_lock
    lock = folder_lock.acquire(sys.argv[1], "--out", "holder.py")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
""")


def _holder(folder, seconds):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), str(seconds)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder(tmp_path):
    proc = _holder(tmp_path / "run", 30)
    try:
        with pytest.raises(folder_lock.FolderBusyError) as e:
            folder_lock.acquire(str(tmp_path / "run"), "--out", "me.py")
        message = str(e.value)
        assert f"process {proc.pid}" in message and "holder.py" in message and "started" in message
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_process_is_taken_over_with_a_note(tmp_path):
    proc = _holder(tmp_path / "run", 30)
    proc.kill()  # kill -9: the lock file stays, the kernel lock goes
    proc.wait()
    assert os.path.exists(tmp_path / "run" / folder_lock.LOCK_FILE)
    notes = []
    lock = folder_lock.acquire(str(tmp_path / "run"), "--out", "me.py", log=notes.append)
    assert len(notes) == 1 and f"process {proc.pid}" in notes[0] and "no longer runs" in notes[0]
    with open(tmp_path / "run" / folder_lock.LOCK_FILE) as f:
        assert json.load(f)["pid"] == os.getpid()
    lock.release()
    assert not os.path.exists(tmp_path / "run" / folder_lock.LOCK_FILE)


def test_hold_releases_the_folder_for_the_next_writer(tmp_path):
    with folder_lock.hold(str(tmp_path), "--out", "first.py"):
        pass
    notes = []
    with folder_lock.hold(str(tmp_path), "--out", "second.py", log=notes.append) as lock:
        assert lock.previous is None and notes == []


def test_snapshot_restores_a_folder_a_failed_run_wrote_to(tmp_path):
    from training import run_folder

    (tmp_path / "config.json").write_text('{"a": 1}')
    (tmp_path / "keep.txt").write_text("x")
    snap = run_folder.Snapshot(str(tmp_path))
    (tmp_path / "config.json").write_text('{"a": 2}')
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "out.tfevents").write_text("e")
    (tmp_path / "sample_z.npy").write_text("z")
    snap.restore()
    assert sorted(os.listdir(tmp_path)) == ["config.json", "keep.txt"]
    assert (tmp_path / "config.json").read_text() == '{"a": 1}'

    fresh = tmp_path / "new"
    snap = run_folder.Snapshot(str(fresh))
    fresh.mkdir()
    (fresh / "config.json").write_text("{}")
    snap.restore()
    assert not fresh.exists()


def test_trim_history_drops_entries_after_the_resumed_step(tmp_path):
    from training import run_folder

    (tmp_path / "eval.json").write_text(json.dumps([{"step": s} for s in (20, 40, 60)]))
    assert run_folder.trim_history(str(tmp_path), 40) == 1
    assert [e["step"] for e in json.loads((tmp_path / "eval.json").read_text())] == [20, 40]


def test_unwritable_folder_is_a_usage_error_naming_the_cause(tmp_path, monkeypatch):
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if os.path.basename(path) == folder_lock.LOCK_FILE:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(folder_lock.FolderUnwritableError) as e:
        folder_lock.acquire(str(tmp_path / "new" / "run"), "--out", "me.py")
    assert str(e.value) == \
        f"--out {tmp_path / 'new' / 'run'} cannot be written: Read-only file system"
    assert isinstance(e.value, cli.UsageError)
    assert os.listdir(tmp_path) == []  # the folders it made are gone again


def test_full_disk_at_the_lock_is_a_usage_error_and_leaves_nothing(tmp_path, monkeypatch):
    def no_space(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    (tmp_path / "kept").mkdir()
    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(folder_lock.FolderUnwritableError, match="No space left on device"):
        folder_lock.acquire(str(tmp_path / "kept" / "run"), "--out", "me.py")
    assert os.listdir(tmp_path) == ["kept"] and os.listdir(tmp_path / "kept") == []


def test_release_removes_only_the_folders_it_made_and_only_when_empty(tmp_path):
    (tmp_path / "there").mkdir()
    with folder_lock.hold(str(tmp_path / "there"), "--out", "me.py"):
        pass
    assert (tmp_path / "there").is_dir()  # was there before: kept
    with folder_lock.hold(str(tmp_path / "a" / "b"), "--out", "me.py"):
        pass
    assert not (tmp_path / "a").exists()  # made for the run, left empty: removed
    with folder_lock.hold(str(tmp_path / "c" / "d"), "--out", "me.py"):
        (tmp_path / "c" / "d" / "out.txt").write_text("result")
    assert (tmp_path / "c" / "d" / "out.txt").read_text() == "result"


def test_read_only_file_system_is_found_before_anything_is_written(tmp_path):
    code = ("import sys; from data_provider import cli, folder_lock; "
            "sys.exit(cli.run_main('tool', lambda a: folder_lock.acquire(sys.argv[1], '--out', "
            "'tool'), None))")
    done = mounts.run_on_tmpfs([sys.executable, "-c", code, str(tmp_path / "ro" / "run")],
                               tmp_path / "ro", read_only=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"tool: error: --out {tmp_path / 'ro' / 'run'} cannot be written: "
                           "Read-only file system\n")
