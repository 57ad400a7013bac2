"""What every command of the project shares.

* **One flag dialect.** ``ArgumentParser`` shows defaults in ``--help`` and
  reports a bad flag in one line (exit 2). ``add_set_argument`` gives the
  config override flag ``--set K V [K V ...]``, repeatable; ``set_pairs``
  turns it into ``(key, text)`` pairs and rejects an odd count.
* **Exit codes.** ``run_main`` calls a command's ``run(args)`` and maps
  errors to one line on stderr: 0 done, 1 failed (e.g. training diverged,
  or an operating-system error such as a full disk or a read-only file
  system while writing, named with its path and cause), 2 usage or bad
  input (``UsageError`` and the project's input errors), 130 stopped with
  Ctrl-C (or a trainer's result with status ``interrupted``: it saved a
  checkpoint first). Tools find an unwritable output folder before they
  start (``folder_lock.acquire`` writes there first) and report it with
  exit 2; once a tool has called ``work_started`` (the training loop does
  before its first step), an operating-system error of any kind, a refused
  permission too, means the job failed (exit 1).
* **Quiet start-up.** ``quiet_tensorflow`` hides TensorFlow's C++ start-up
  chatter (oneDNN notes, ``cuInit`` on machines without a GPU); ``--verbose``
  or ``TF_CPP_MIN_LOG_LEVEL=0`` shows it again.
* **Safe outputs.** ``OutputSet`` writes files under temporary names and
  renames them into place only when the whole set is complete, so a failed
  run leaves the previous set untouched; ``load_npy`` reads an array with a
  clear error for a missing, damaged or non-array file.
"""
import argparse
import contextlib
import os
import re
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(ValueError):
    """A bad flag, file or value: reported in one line, exit code 2.

    The project's input errors (a damaged voxel file, an unknown config key,
    a missing checkpoint) derive from it, so every command reports them alike.
    """


class CommandFailed(RuntimeError):
    """The command ran but could not finish (exit code 1)."""


_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` with defaults in ``--help`` and one-line errors (exit 2).

    A negative number in exponent notation (``--learning_rate_G -1e-4``,
    ``--set KEY -1e-4``) is a value, as ``-0.0001`` is, so the command can
    say what is wrong with it rather than "expected one argument".
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def add_set_argument(parser, help_text="config override, e.g. --set KEY VALUE"):
    """``--set K V [K V ...]``, repeatable; read it with ``set_pairs(args.set)``."""
    parser.add_argument("--set", nargs="+", action="append", default=[], metavar="KEY VALUE",
                        help=help_text + " (pairs; repeat --set or give several pairs)")


def set_pairs(groups, flag="--set"):
    """``[[k, v, k, v], [k, v]]`` (``--set`` given twice) -> ``[(k, v), (k, v), (k, v)]``.

    Raises ``UsageError`` naming the flag when a group has an odd count.
    """
    pairs = []
    for group in groups:
        group = list(group)
        if len(group) % 2:
            raise UsageError(f"{flag} expects KEY VALUE pairs; {group[-1]!r} has no value")
        pairs.extend(zip(group[0::2], group[1::2]))
    return pairs


def add_verbose_argument(parser):
    """``--verbose``: show TensorFlow's start-up and C++ log lines."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log messages")


@contextlib.contextmanager
def _stderr_to(path):
    """Send file descriptor 2 to ``path`` (C++ code writes there directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def shows_tensorflow_start_up(verbose, level):
    """Whether ``quiet_tensorflow`` lets TensorFlow's start-up lines through: with
    ``--verbose`` or the user's ``TF_CPP_MIN_LOG_LEVEL`` (``level``, stripped) of 0."""
    return bool(verbose) or level == "0"


def quiet_tensorflow(verbose=False):
    """Import TensorFlow without its start-up chatter; returns the module.

    Unless ``verbose`` or the user set ``TF_CPP_MIN_LOG_LEVEL=0``,
    TensorFlow's C++ log level is the user's (3, errors silenced, when unset)
    and the lines it prints while importing (before its logging is
    configured: absl's notice, oneDNN, ``cuInit`` on machines without a GPU)
    are discarded whatever the level; if the import fails they are printed.
    Python warnings and errors are not affected.
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip()
    if "tensorflow" in sys.modules or shows_tensorflow_start_up(verbose, level):
        import tensorflow as tf
        return tf
    if not level:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tempfile
    fd, captured = tempfile.mkstemp(prefix="tf_import_", suffix=".log")
    os.close(fd)
    try:
        with _stderr_to(captured):
            import tensorflow as tf
            tf.config.list_physical_devices()  # device discovery logs too (cuInit without a GPU)
    except BaseException:
        with open(captured) as f:
            sys.stderr.write(f.read())
        raise
    finally:
        os.remove(captured)
    tf.get_logger().setLevel("ERROR")
    return tf


_TF_NOISE = (
    re.compile(r"\s*\[Condition [^]]*\].*$"),  # tf.debugging.assert_*'s operands after the message
    re.compile(r"\{\{function_node [^}]*\}\}\s*"),
    re.compile(r"\s*\[\[\{\{node [^]]*\]\]"),
    re.compile(r"\s*\[\[[^]]*\]\]"),
    re.compile(r"\s*\[Op:[^]]*\].*$"),
    re.compile(r"^(assertion failed:\s*)+"),
)


def one_line(error, limit=500):
    """The useful first line of an error, without TensorFlow's wrapping.

    Drops ``{{function_node ...}}`` prefixes, ``[[{{node ...}}]]`` and
    ``[Op:...]`` suffixes and ``assertion failed:``, and unwraps the
    ``[message]`` brackets of ``tf.debugging`` assertions (their operands
    dropped). An error raised inside a ``tf.function`` ("Graph execution
    error:") gives its cause, found after the traceback TensorFlow puts first. A line longer than
    ``limit`` keeps its beginning and its end, joined by `` ... ``.
    """
    text = (getattr(error, "message", None) or os_error_text(error) or str(error)).strip()
    lines = text.splitlines()
    if lines and lines[0].startswith("Graph execution error"):
        # inside a tf.function: the cause follows the traceback of the node that raised it
        causes = [line for line in lines[1:] if line.strip() and not line[0].isspace()
                  and not line.startswith("Detected at node")]
        lines = causes or lines
    text = lines[0] if lines else type(error).__name__
    for pattern in _TF_NOISE:
        text = pattern.sub("", text)
    text = text.strip()
    while text.startswith("[") and text.endswith("]") and text.count("[") == 1:
        text = text[1:-1].strip()
    if text.startswith("[") and text.endswith("]"):  # several bracketed assertion messages
        text = re.sub(r"\] \[", " ", text[1:-1]).strip()
    if len(text) > limit:  # keep both ends: the subject first, the conclusion last
        head = limit * 3 // 5
        text = f"{text[:head]} ... {text[len(text) - (limit - head - 5):]}"
    return text or type(error).__name__


def os_error_text(error):
    """``path: cause`` of an operating-system error (``None`` for other errors).

    ``/out/a.npy: No space left on device`` rather than ``[Errno 28] No space
    left on device: '/out/a.npy'``; a rename names both paths; an error
    without a path (a write to an open file) gives the cause alone. An
    ``OSError`` raised with a message of its own keeps it.
    """
    if not isinstance(error, OSError) or not error.strerror:
        return None
    if error.filename is None:
        return error.strerror
    names = f"{error.filename}"
    if error.filename2 is not None:
        names += f" -> {error.filename2}"
    return f"{names}: {error.strerror}"


INPUT_ERRORS = (UsageError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                PermissionError, FileExistsError)


_work = {"started": False}


def work_started():
    """From now on the command is doing its work: an ``OSError`` (even a
    ``PermissionError`` or a vanished file) is a failure of the run (exit 1),
    not bad input."""
    _work["started"] = True


def run_main(prog, run, args, *, input_error_types=(), failure_types=(), tensorflow=False):
    """Run ``run(args)`` and return the exit code, errors as one line on stderr.

    ``input_error_types``: extra exception types meaning bad input (exit 2);
    ``failure_types``: types meaning the job failed (exit 1), as does any
    other ``OSError`` (reported as ``path: cause``); with
    ``tensorflow=True`` TensorFlow's data errors (a damaged record, a failed
    assertion in the input pipeline) are reported as ``data error`` (exit 2).
    """
    usage = INPUT_ERRORS + tuple(input_error_types)
    _work["started"] = False
    try:
        result = run(args)
    except KeyboardInterrupt:
        print(f"{prog}: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        if _work["started"] or not isinstance(e, usage):  # a full disk, a read-only file
            print(f"{prog}: error: {one_line(e)}", file=sys.stderr)  # system... while it ran
            return EXIT_FAILED
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except usage as e:
        print(f"{prog}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandFailed, *failure_types) as e:
        print(f"{prog}: {one_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:
        if tensorflow and isinstance(e, _tensorflow_data_errors()):
            print(f"{prog}: data error: {one_line(e)}", file=sys.stderr)
            return EXIT_USAGE
        raise
    if isinstance(result, dict) and result.get("status") == "interrupted":
        return EXIT_INTERRUPTED  # a trainer stopped by SIGINT / SIGTERM after saving
    return EXIT_OK


def _tensorflow_data_errors():
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return ()
    return (tf.errors.InvalidArgumentError, tf.errors.DataLossError, tf.errors.NotFoundError)


def load_npy(path, what="file", mmap_mode=None):
    """``np.load`` of an array file with one clear error per way it can fail.

    Raises ``UsageError`` naming ``path`` when it does not exist, is a
    directory, is not a ``.npy`` array (e.g. a text file), is truncated, or
    holds Python objects (never unpickled). ``mmap_mode="r"`` maps the file
    instead of reading it (for picking a few scenes out of a large file).
    """
    import numpy as np

    if not os.path.exists(path):
        raise UsageError(f"{what} {path} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a directory, expected a .npy file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise UsageError(f"{what} {path} cannot be read: {e.strerror}") from None
    if magic != b"\x93NUMPY":
        raise UsageError(f"{what} {path} is not a valid .npy array file")
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e) or "Python objects" in str(e):
            raise UsageError(f"{what} {path} holds Python objects, not a numeric array") from None
        if "mmap length" in str(e):
            raise UsageError(f"{what} {path} is damaged or truncated ({e})") from None
        raise UsageError(f"{what} {path} is not a valid .npy array file ({e})") from None
    except (OSError, EOFError) as e:
        raise UsageError(f"{what} {path} is damaged or truncated ({e})") from None


@contextlib.contextmanager
def _naming(final, temporary):
    """An ``OSError`` while writing ``temporary`` (or an open file, which has no path)
    is raised again naming ``final``, the file the user asked for."""
    try:
        yield
    except OSError as e:
        if not e.errno or e.filename not in (None, temporary):
            raise
        raise OSError(e.errno, e.strerror, final) from None


class _Stream:
    """A file numpy writes through ``write``: a full disk then raises ``ENOSPC``.

    (Given the file itself, numpy writes the data with C ``fwrite`` and reports
    a full disk only as "4096 requested and 3968 written".)
    """

    def __init__(self, f):
        self.write = f.write


class OutputSet:
    """Files written together: all of them appear, or none changes.

    ``path(name)`` returns a temporary path inside ``directory`` to write
    ``name`` to; ``commit()`` renames every written file into place (each
    rename is atomic), ``discard()`` removes the temporary files. As a context
    manager it commits on success and discards on an exception, so a failure
    part-way leaves the previous outputs of the same names untouched.
    """

    def __init__(self, directory):
        self.directory = directory
        self._pending = {}

    def path(self, name):
        final = os.path.join(self.directory, name)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        head, tail = os.path.split(final)
        stem, ext = os.path.splitext(tail)  # the extension stays last (image writers use it)
        temporary = os.path.join(head, f".{stem}.partial-{os.getpid()}{ext}")
        self._pending[final] = temporary
        return temporary

    def save_npy(self, name, array):
        """Write ``array`` as ``name`` (a ``.npy`` file); returns the final path."""
        import numpy as np
        final, temporary = os.path.join(self.directory, name), self.path(name)
        with _naming(final, temporary), open(temporary, "wb") as f:
            np.save(_Stream(f), array)
        return final

    def write_text(self, name, text):
        final, temporary = os.path.join(self.directory, name), self.path(name)
        with _naming(final, temporary), open(temporary, "w") as f:
            f.write(text)
        return final

    def commit(self):
        for final, temporary in self._pending.items():
            os.replace(temporary, final)
        written = list(self._pending)
        self._pending = {}
        return written

    def discard(self):
        for temporary in self._pending.values():
            with contextlib.suppress(FileNotFoundError):
                os.remove(temporary)
        self._pending = {}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


@contextlib.contextmanager
def atomic_write(path, mode="w"):
    """Open a temporary file next to ``path``; rename it to ``path`` on success."""
    with OutputSet(os.path.dirname(os.path.abspath(path))) as out:
        with open(out.path(os.path.basename(path)), mode) as f:
            yield f
