"""benchmarks/air_count_errors.py: the breakdown of counts, the least visible primitive,
bad flags."""
import importlib.util
import pathlib

import numpy as np

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "air_count_errors.py"
_SPEC = importlib.util.spec_from_file_location("air_count_errors", _PATH)
air_count_errors = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(air_count_errors)


def test_breakdown_counts_short_and_over_per_true_count():
    true = np.array([1, 1, 2, 2, 2, 3, 3, 3])
    predicted = np.array([1, 2, 2, 1, 3, 3, 2, 1])
    found = air_count_errors.breakdown(predicted, true, 3)
    assert found["accuracy"] == 3 / 8
    assert (found["short"], found["over"]) == (3, 2)
    assert found["per_count"] == [(1, 2, 1, 0, 1), (2, 3, 1, 1, 1), (3, 3, 1, 2, 0)]


def test_least_visible_is_what_removing_a_primitive_changes():
    from models.air.scenes import render_scenes

    size, supersample = 16, 1
    eye = np.eye(3)
    # scene 0: one sphere alone; scene 1: the same sphere and, a little off, a second one
    # that it hides at this resolution
    types = np.array([[1, -1], [1, 1]])
    positions = np.zeros((2, 2, 3))
    positions[1, 1] = [0.02, 0.0, 0.0]
    rotations = np.broadcast_to(eye, (2, 2, 3, 3)).copy()
    images = render_scenes(types, positions, rotations, size, supersample)
    data = {"types": types, "positions": positions, "rotations": rotations,
            "images": images[..., None]}
    least = air_count_errors.least_visible(data, size, supersample, "orthographic")
    np.testing.assert_allclose(least[0], images[0].sum(), rtol=1e-6)   # against black
    assert images[0].sum() > 5.0
    assert least[1] < 0.05 * least[0]                  # the hidden one


def test_bad_flags_exit_2_before_tensorflow(tmp_path, capsys):
    assert air_count_errors.main(["--weights", str(tmp_path), "--set", "explain_gian", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "explain_gain" in err and len(err.splitlines()) == 1
