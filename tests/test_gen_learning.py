"""benchmarks/gen_learning.py: the JSON schema at a tiny budget, its baselines by hand, bad
flags."""
import importlib.util
import json
import os
import pathlib

import numpy as np
import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gen_learning.py"
_SPEC = importlib.util.spec_from_file_location("gen_learning", _PATH)
gen_learning = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gen_learning)

TINY = ["--set", "hidden_channels", "8", "canvas_channels", "8", "upsample_channels", "8",
        "embedding_channels", "6", "embedder_channels", "8", "mlp_units", "8",
        "message_channels", "8", "num_steps", "1"]


def test_nearest_context_view_is_the_own_mazes_nearest_camera():
    # one hotel of 2 mazes, 3 context views each; frames are filled with their view number
    cameras = np.zeros((1, 6, 7), np.float32)
    cameras[0, :, 0] = [0.0, 0.5, 1.0, 2.0, 2.5, 3.0]      # x of each context camera
    frames = np.broadcast_to(np.arange(6, dtype=np.float32)[None, :, None, None, None],
                             (1, 6, 64, 64, 3))
    queries = np.zeros((1, 2, 7), np.float32)
    queries[0, :, 0] = [0.9, 0.9]   # maze 0: nearest is view 2; maze 1: its own nearest, view 3
    batch = {"context_frames": _tensor(frames), "context_cameras": _tensor(cameras),
             "query_cameras": _tensor(queries)}
    chosen = gen_learning.nearest_context_views(batch)
    assert chosen.shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(chosen[:, 0, 0, 0], [2.0, 3.0])


def test_context_mean_is_the_mean_of_the_own_mazes_views():
    # one hotel of 2 mazes, 3 context views each, filled with their view number
    frames = np.broadcast_to(np.arange(6, dtype=np.float32)[None, :, None, None, None],
                             (1, 6, 64, 64, 3))
    batch = {"context_frames": _tensor(frames), "context_cameras": _tensor(np.zeros((1, 6, 7))),
             "query_cameras": _tensor(np.zeros((1, 2, 7)))}
    mean = gen_learning.context_mean_views(batch)
    assert mean.shape == (2, 64, 64, 3)
    np.testing.assert_allclose(mean[:, 5, 7], [[1.0] * 3, [4.0] * 3])


def test_per_query_l2_is_the_mean_squared_error_per_pixel_and_channel():
    a = np.zeros((2, 64, 64, 3))
    b = np.zeros((2, 64, 64, 3))
    b[0, :32] = 1.0          # half of the first image off by 1
    b[1] = 0.5
    np.testing.assert_allclose(gen_learning.per_query_l2(a, b), [0.5, 0.25])


def _tensor(x):
    import tensorflow as tf

    return tf.constant(np.ascontiguousarray(x))


@pytest.mark.slow
def test_a_tiny_run_writes_every_key(tmp_path):
    out = tmp_path / "out"
    args = ["--out", str(out), "--minutes", "0.02", "--num_train", "1", "--num_test", "1",
            "--eval_queries", "1", "--curve_queries", "1", "--curve_seconds", "0.5"] + TINY
    assert gen_learning.main(args) == 0
    with open(out / "gen_learning.json") as f:
        result = json.load(f)
    sizes = {"1", "2", "3", "4", "5"}
    for name in ("gen", "baseline", "mean_image", "nearest_context", "context_mean"):
        assert set(result[name]["l2"]) == sizes
        assert all(0.0 <= v <= 1.0 for v in result[name]["l2"].values())
    for name in ("gen", "baseline"):
        assert set(result[name]["l2_prior_mean"]) == sizes
        assert all(0.0 <= v <= 1.0 for v in result[name]["l2_prior_mean"].values())
        assert result[name]["l2_prior_mean"] != result[name]["l2"]
        assert result[name]["steps"] >= 1
        point = result[name]["curve"][-1]
        assert {"step", "train_seconds", "test_l2_1x1", "test_l2_3x3", "test_l2_5x5"} <= set(point)
    assert result["minutes"] == 0.02 and result["wall_clock_minutes"] > 0
    assert result["config"]["hidden_channels"] == 8 and result["config"]["batch_size"] == 2
    assert result["data"]["summary"]["camera_max"][0] <= 0.39
    assert (out / "gen_learning_tour.png").stat().st_size > 0
    assert (out / "gen_learning_tour.gif").stat().st_size > 0
    # the rendered data is reused by a run asking for the same, refused to another stand-in
    shards = sorted((out / "data" / "mazes").glob("*/*.tfrecord"))
    stamps = [p.stat().st_mtime_ns for p in shards]
    assert gen_learning.stand_in_root(str(out), 1, 1, 3) == str(out / "data")
    assert [p.stat().st_mtime_ns for p in shards] == stamps
    assert gen_learning.main(args[:-len(TINY)] + ["--num_train", "2"] + TINY) == 2


@pytest.mark.parametrize("extra, message", [
    (["--num_train", "-1"], "--num_train must be a positive integer"),
    (["--batch_size", "0"], "--batch_size must be a positive integer"),
    (["--minutes", "-2"], "--minutes must be positive"),
    (["--data_dir", "/nonexistent/gqn"], "--data_dir"),
    (["--set", "hidden_chanels", "8"], "hidden_chanels"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert gen_learning.main(["--out", str(out)] + extra) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not os.path.exists(out / "data")


def test_an_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert gen_learning.main(["--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and len(err.splitlines()) == 1
