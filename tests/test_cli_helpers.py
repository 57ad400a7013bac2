"""The shared command-line layer: flag dialect, one-line errors, safe outputs, progress."""
import errno
import os

import numpy as np
import pytest

from data_provider import cli
from data_provider.progress import Progress, format_duration, progress_line


def test_set_accepts_pairs_and_repeats():
    p = cli.ArgumentParser(prog="tool")
    cli.add_set_argument(p)
    args = p.parse_args(["--set", "A", "1", "B", "2", "--set", "C", "3"])
    assert cli.set_pairs(args.set) == [("A", "1"), ("B", "2"), ("C", "3")]
    assert cli.set_pairs(p.parse_args([]).set) == []


def test_set_odd_count_names_the_flag():
    with pytest.raises(cli.UsageError, match="--set expects KEY VALUE pairs; 'B' has no value"):
        cli.set_pairs([["A", "1"], ["B"]])


def test_parser_error_is_one_line_exit_2(capsys):
    p = cli.ArgumentParser(prog="tool")
    p.add_argument("--n", type=int, default=3, help="a number")
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--n", "x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tool: error: argument --n")
    assert "(default: 3)" in p.format_help()


def test_run_main_exit_codes(capsys):
    def bad(_):
        raise cli.UsageError("--x: no such file y")

    def failing(_):
        raise cli.CommandFailed("it broke")

    def interrupted(_):
        raise KeyboardInterrupt

    assert cli.run_main("tool", lambda a: None, None) == 0
    assert cli.run_main("tool", bad, None) == 2
    assert capsys.readouterr().err == "tool: error: --x: no such file y\n"
    assert cli.run_main("tool", failing, None) == 1
    assert capsys.readouterr().err == "tool: it broke\n"
    assert cli.run_main("tool", interrupted, None) == 130
    assert cli.run_main("tool", lambda a: open("/nonexistent/f"), None) == 2


def test_one_line_strips_tensorflow_wrapping():
    raw = ("{{function_node __wrapped__IteratorGetNext_output_types_2_device_/job:localhost/"
           "replica:0/task:0/device:CPU:0}} assertion failed: [/d/0001-of-0002.tfrecord: "
           "truncated record at offset 1024]\n\t [[{{node Assert/Assert}}]] [Op:IteratorGetNext]")
    assert cli.one_line(ValueError(raw)) == \
        "/d/0001-of-0002.tfrecord: truncated record at offset 1024"
    assert cli.one_line(ValueError("plain message\nmore")) == "plain message"
    assert cli.one_line(ValueError("assertion failed: [a.tfrecord: bad] [at byte 3]")) == \
        "a.tfrecord: bad at byte 3"
    assert cli.one_line(ValueError("this config has DIM [16, 8]")) == "this config has DIM [16, 8]"
    long = "ckpt-2 does not hold this model (" + "x" * 900 + "); this config has DIM [16, 8]"
    short = cli.one_line(ValueError(long), limit=100)
    assert len(short) == 100 and short.startswith("ckpt-2 does not hold this model (xxx")
    assert short.endswith("xx); this config has DIM [16, 8]") and " ... " in short


def test_load_npy_errors(tmp_path):
    good = tmp_path / "a.npy"
    np.save(good, np.arange(4))
    np.testing.assert_array_equal(cli.load_npy(str(good)), np.arange(4))
    text = tmp_path / "t.npy"
    text.write_text("not an array\n")
    with pytest.raises(cli.UsageError, match=r"t\.npy is not a valid \.npy array file"):
        cli.load_npy(str(text))
    objects = tmp_path / "o.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(cli.UsageError, match="holds Python objects"):
        cli.load_npy(str(objects))
    truncated = tmp_path / "cut.npy"
    truncated.write_bytes(good.read_bytes()[:-8])
    with pytest.raises(cli.UsageError, match="cut.npy"):
        cli.load_npy(str(truncated))
    with pytest.raises(cli.UsageError, match="does not exist"):
        cli.load_npy(str(tmp_path / "missing.npy"))


def test_load_npy_memory_mapped(tmp_path):
    good = tmp_path / "a.npy"
    np.save(good, np.arange(12).reshape(3, 4))
    mapped = cli.load_npy(str(good), "scene file", mmap_mode="r")
    assert isinstance(mapped, np.memmap)
    np.testing.assert_array_equal(mapped[2], [8, 9, 10, 11])
    (tmp_path / "t.npy").write_text("a text file\n")
    with pytest.raises(cli.UsageError,
                       match=r"scene file .*t\.npy is not a valid \.npy array file"):
        cli.load_npy(str(tmp_path / "t.npy"), "scene file", mmap_mode="r")
    truncated = tmp_path / "cut.npy"
    truncated.write_bytes(good.read_bytes()[:-8])
    with pytest.raises(cli.UsageError, match="cut.npy is damaged or truncated"):
        cli.load_npy(str(truncated), mmap_mode="r")
    objects = tmp_path / "o.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(cli.UsageError, match="holds Python objects"):
        cli.load_npy(str(objects), mmap_mode="r")


def test_output_set_all_or_nothing(tmp_path):
    (tmp_path / "a.npy").write_bytes(b"old a")
    (tmp_path / "b.txt").write_text("old b")
    with pytest.raises(RuntimeError):
        with cli.OutputSet(str(tmp_path)) as out:
            out.save_npy("a.npy", np.zeros(3))
            out.write_text("b.txt", "new b")
            raise RuntimeError("crash before the set is complete")
    assert (tmp_path / "a.npy").read_bytes() == b"old a"
    assert (tmp_path / "b.txt").read_text() == "old b"
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.txt"]
    with cli.OutputSet(str(tmp_path)) as out:
        out.save_npy("a.npy", np.ones(3))
        out.write_text("sub/b.txt", "new b")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.ones(3))
    assert (tmp_path / "sub" / "b.txt").read_text() == "new b"


def test_progress_format():
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("inf")) == "?"
    assert progress_line("eval", 5, 10, "scenes", 2.5, 2.0) == \
        "[eval] 5/10 scenes  2.5 scenes/s  ETA 0:00:02"
    assert progress_line("train", 7, None, "steps", 1.0, extra="loss 3") == \
        "[train] 7 steps  1 steps/s  loss 3"
    assert progress_line("render", 40, 40, "rooms", 1493.7, 0) == \
        "[render] 40/40 rooms  1494 rooms/s  ETA 0:00:00"  # no 1.49e+03
    assert progress_line("eval", 1, 2, "pairs", 0.9583, 1.04) == \
        "[eval] 1/2 pairs  0.958 pairs/s  ETA 0:00:01"
    lines = []
    p = Progress("render", 3, "scenes", every=1e9, log=lines.append)
    p.update(1)
    p.update(2)
    p.update(3)
    assert len(lines) == 2 and lines[-1].startswith("[render] 3/3 scenes")


@pytest.mark.parametrize("verbose, level, shown", [
    (False, "", False), (True, "", True), (False, "3", False), (False, "2", False),
    (False, "0", True), (True, "3", True)])
def test_start_up_lines_are_shown_with_verbose_or_the_user_s_level_0(verbose, level, shown):
    assert cli.shows_tensorflow_start_up(verbose, level) is shown


@pytest.mark.slow
def test_the_user_s_level_0_shows_tensorflow_start_up():
    """A start-up that shows TensorFlow's C++ lines (here the user's level 0; ``--verbose``
    takes the same path, above) keeps the level and prints them. The quiet default (the level
    set to 3 for the import, nothing on stderr) is asserted on the commands run as a user
    runs them: ``train_gqn_draw.py`` stopped by Ctrl-C and ``evaluate_air`` refusing a misfit
    weights file."""
    import subprocess
    import sys
    code = ("from data_provider.cli import quiet_tensorflow; import os; "
            "tf = quiet_tensorflow(); "
            "print(float(tf.reduce_sum(tf.ones([3]))), os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0"), cwd=root, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == ["3.0", "0"]
    assert "I0000" in done.stderr


def test_one_line_gives_the_cause_of_an_error_inside_a_tf_function():
    import tensorflow as tf

    @tf.function
    def locate(x):
        tf.debugging.assert_less(x, 3.0, message="pose (5.0, 1.0) lies outside the graph")
        return x * 2

    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        locate(tf.constant(5.0))
    assert str(e.value).startswith("Graph execution error")
    assert cli.one_line(e.value) == "pose (5.0, 1.0) lies outside the graph"


def test_interrupted_result_exits_130(capsys):
    assert cli.run_main("t", lambda a: {"status": "interrupted"}, None) == cli.EXIT_INTERRUPTED
    assert cli.run_main("t", lambda a: {"status": "completed"}, None) == cli.EXIT_OK
    assert cli.run_main("t", lambda a: None, None) == cli.EXIT_OK


def test_os_errors_name_the_path_and_the_cause():
    assert cli.os_error_text(OSError(errno.EROFS, os.strerror(errno.EROFS), "/out/a.npy")) == \
        "/out/a.npy: Read-only file system"
    assert cli.os_error_text(OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/a", None, "/b")) == \
        "/a -> /b: Invalid cross-device link"
    assert cli.os_error_text(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) == \
        "No space left on device"
    assert cli.os_error_text(FileExistsError("x.npy exists; pass --overwrite")) is None
    assert cli.os_error_text(ValueError("no")) is None
    assert cli.one_line(FileExistsError("x.npy exists; pass --overwrite")) == \
        "x.npy exists; pass --overwrite"


def test_run_main_os_error_during_the_run_exits_1_in_one_line(capsys):
    def full_disk(_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/ckpt-3.index")

    def read_only(_):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/out/eval.json")

    assert cli.run_main("tool", full_disk, None) == 1
    assert capsys.readouterr().err == "tool: error: /out/ckpt-3.index: No space left on device\n"
    assert cli.run_main("tool", read_only, None) == 1
    assert capsys.readouterr().err == "tool: error: /out/eval.json: Read-only file system\n"
    assert cli.run_main("tool", lambda a: open("/nonexistent/f"), None) == 2
    assert capsys.readouterr().err == \
        "tool: error: /nonexistent/f: No such file or directory\n"


def test_a_refused_permission_is_bad_input_before_the_work_starts_and_a_failure_after(capsys):
    def refused(started):
        if started:
            cli.work_started()
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/out/ckpt-7.index")

    assert cli.run_main("tool", refused, False) == 2
    assert capsys.readouterr().err == "tool: error: /out/ckpt-7.index: Permission denied\n"
    assert cli.run_main("tool", refused, True) == 1
    assert capsys.readouterr().err == "tool: error: /out/ckpt-7.index: Permission denied\n"
    assert cli.run_main("tool", refused, False) == 2  # each command starts anew
    capsys.readouterr()


def test_output_set_names_the_file_a_full_disk_stopped(tmp_path, monkeypatch):
    def no_space(f, array):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write to an open file

    (tmp_path / "a.npy").write_bytes(b"old a")
    monkeypatch.setattr(np, "save", no_space)
    with pytest.raises(OSError) as e:
        with cli.OutputSet(str(tmp_path)) as out:
            out.save_npy("a.npy", np.zeros(3))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "a.npy")
    assert cli.one_line(e.value) == f"{tmp_path / 'a.npy'}: No space left on device"
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]
    assert (tmp_path / "a.npy").read_bytes() == b"old a"


def test_negative_numbers_in_exponent_notation_are_values():
    p = cli.ArgumentParser(prog="tool")
    p.add_argument("--rate", type=float)
    cli.add_set_argument(p)
    args = p.parse_args(["--rate", "-1e-4", "--set", "A", "-2.5E+3", "B", "-3", "C", "-.5"])
    assert args.rate == -1e-4
    assert cli.set_pairs(args.set) == [("A", "-2.5E+3"), ("B", "-3"), ("C", "-.5")]
    with pytest.raises(SystemExit):
        p.parse_args(["--rate", "-x"])
