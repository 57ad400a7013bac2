"""What a training run does to its folder besides saving: undo, trim, set aside.

* ``Snapshot``: the folder as a run found it. A run that fails before its
  first checkpoint puts it back (``restore``): files it added are removed,
  the small files it rewrote (``config.json``, ``eval.json``) get their old
  contents back, and a folder it created is removed.
* ``trim_history``: a resumed run drops the evaluation entries of steps
  after the checkpoint it resumed from (a run killed after its last
  checkpoint, or one whose later checkpoints were set aside, left them).
* ``set_aside``: checkpoints whose weights give a non-finite loss are moved
  to ``diverged-step<N>/`` and the checkpoint index is rewritten, so the
  next run resumes from the newest good one.
"""
import contextlib
import json
import os
import shutil

from data_provider import cli
from data_provider.folder_lock import LOCK_FILE
from models import checkpoints

EVAL_FILE = "eval.json"
REWRITTEN = (checkpoints.CONFIG_FILE, EVAL_FILE, "checkpoint")


def _files(folder):
    found = set()
    for root, dirs, names in os.walk(folder):
        for name in names:
            found.add(os.path.relpath(os.path.join(root, name), folder))
        for name in dirs:
            found.add(os.path.relpath(os.path.join(root, name), folder) + os.sep)
    return found


class Snapshot:
    """The state of ``folder`` before a run wrote to it."""

    def __init__(self, folder):
        self.folder = folder
        self.existed = os.path.isdir(folder)
        self.files = _files(folder) if self.existed else set()
        self.contents = {}
        for name in REWRITTEN:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.contents[name] = f.read()

    def restore(self):
        """Put the folder back as it was (best effort: an error here must not hide the run's)."""
        if not self.existed:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        added = sorted(_files(self.folder) - self.files - {LOCK_FILE}, reverse=True)
        for name in added:  # deepest first, so folders are empty when their turn comes
            path = os.path.join(self.folder, name)
            with contextlib.suppress(OSError):
                if name.endswith(os.sep):
                    os.rmdir(path)
                else:
                    os.remove(path)
        for name, data in self.contents.items():
            with contextlib.suppress(OSError):
                with cli.atomic_write(os.path.join(self.folder, name), "wb") as f:
                    f.write(data)


def trim_history(folder, step):
    """Drop ``eval.json`` entries of steps after ``step``; returns how many were dropped."""
    path = os.path.join(folder, EVAL_FILE)
    if not os.path.isfile(path):
        return 0
    try:
        with open(path) as f:
            history = json.load(f)
    except ValueError:
        raise cli.UsageError(f"{path} is damaged (not JSON); move it away to continue") from None
    kept = [entry for entry in history if entry.get("step", 0) <= step]
    if len(kept) != len(history):
        with cli.atomic_write(path) as f:
            json.dump(kept, f, indent=2)
    return len(history) - len(kept)


def checkpoint_paths(folder):
    """The ``ckpt-N`` prefixes of ``folder``, oldest first (from its checkpoint index)."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(folder)
    if state is None:
        return []
    return [p if os.path.isabs(p) else os.path.join(folder, p)
            for p in state.all_model_checkpoint_paths]


def set_aside(folder, bad, step):
    """Move the checkpoints ``bad`` to ``<folder>/diverged-step<step>/`` and rewrite the
    index to the rest; returns the new folder's path."""
    aside = os.path.join(folder, f"diverged-step{step}")
    os.makedirs(aside, exist_ok=True)
    for prefix in bad:
        directory, stem = os.path.split(prefix)
        for name in os.listdir(directory):
            if name == stem + ".index" or name.startswith(stem + ".data-"):
                os.replace(os.path.join(directory, name), os.path.join(aside, name))
    remaining = [p for p in checkpoint_paths(folder) if p not in bad]
    index = os.path.join(folder, "checkpoint")
    if remaining:  # the index's text format, names relative to the folder as the manager writes
        names = [os.path.relpath(p, folder) for p in remaining]
        with cli.atomic_write(index) as f:
            f.write(f'model_checkpoint_path: "{names[-1]}"\n')
            f.writelines(f'all_model_checkpoint_paths: "{name}"\n' for name in names)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(index)
    return aside
