"""evaluation.metrics against the reference loops of the original and scikit-learn."""
import metrics_reference as R  # tests/metrics_reference.py (pytest puts tests/ on the path)
import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from evaluation import metrics as M


def _scenes(rng, n, shape=(8, 6, 8), empty=0.6, classes=12, decimals=None):
    true = rng.integers(0, classes, (n,) + shape)
    true[rng.random(true.shape) < empty] = 0
    logits = rng.normal(size=true.shape + (classes,)).astype(np.float32)
    np.put_along_axis(logits, true[..., None], 1.5, axis=-1)
    probs = np.exp(logits)
    probs /= probs.sum(-1, keepdims=True)
    if decimals is not None:  # coarse scores: many ties
        probs = np.round(probs, decimals)
    return true, probs.astype(np.float32)


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_random_volumes_match_reference(decimals):
    rng = np.random.default_rng(decimals or 0)
    true, probs = _scenes(rng, 5, decimals=decimals)
    fast = M.evaluate_reconstruction(true, probs, workers=2)
    np.testing.assert_allclose(fast["AP"], R.reference_ap(true, probs), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast["IoU"], R.reference_iou(probs.argmax(-1), true),
                               rtol=0, atol=1e-12)


def test_iou_values_by_hand():
    true = np.zeros((2, 1, 1, 4), int)
    pred = np.zeros_like(true)
    true[0, 0, 0] = [1, 1, 2, 0]
    pred[0, 0, 0] = [1, 2, 2, 2]
    true[1, 0, 0] = [0, 0, 0, 0]
    pred[1, 0, 0] = [0, 0, 0, 1]
    rows = M.iou_rows(pred, true)
    # class 1: scene 0: 1 / (1 + 2); scene 1: 0 / (1 + 0)
    assert rows[1] == pytest.approx((1 / 3 + 0) / 2)
    # class 2: scene 0 only: 1 / (3 + 1)
    assert rows[2] == pytest.approx(1 / 4)
    # class 0: scene 0: 0 / (0 + 1); scene 1: 3 / (3 + 4)
    assert rows[0] == pytest.approx((0 + 3 / 7) / 2)
    # all (classes 1..11): scene 0: 2 / (4 + 3); scene 1: 0 / (1 + 0)
    assert rows[12] == pytest.approx((2 / 7 + 0) / 2)
    assert np.isnan(rows[3:12]).all()  # in no scene: no value (the original divides 0 by 0)
    np.testing.assert_array_equal(np.isnan(rows), np.isnan(R.reference_iou(pred, true)))


def test_edge_cases_absent_class_and_empty_scene():
    rng = np.random.default_rng(5)
    true, probs = _scenes(rng, 4, classes=6)        # classes 6..11 absent everywhere
    probs = np.concatenate([probs, np.zeros(probs.shape[:-1] + (6,), np.float32)], -1)
    true[2] = 0                                     # a scene holding only empty space
    probs[3] = 0
    probs[3, ..., 0] = 1                            # all scores tied
    fast = M.evaluate_reconstruction(true, probs)
    ref_ap = R.reference_ap(true, probs)
    np.testing.assert_allclose(fast["AP"], ref_ap, rtol=0, atol=1e-12)
    assert np.all(fast["AP"][6:12] == 0)
    ref_iou = R.reference_iou(probs.argmax(-1), true)
    np.testing.assert_allclose(fast["IoU"], ref_iou, rtol=0, atol=1e-12)
    assert np.isnan(fast["IoU"][6:12]).all()


def test_average_precision_equals_sklearn_with_ties():
    rng = np.random.default_rng(2)
    for _ in range(20):
        n = int(rng.integers(1, 200))
        y = rng.random(n) < rng.random()
        y[rng.integers(n)] = True
        s = np.round(rng.random(n), int(rng.integers(0, 3))).astype(np.float32)
        assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s),
                                                          abs=1e-12)
    with pytest.raises(ValueError, match="no positive"):
        M.average_precision(np.zeros(3, bool), np.ones(3))


def test_scene_ap_all_row_is_flattened_channels():
    rng = np.random.default_rng(3)
    true, probs = _scenes(rng, 1, shape=(5, 4, 3))
    ap, present = M.scene_average_precision(true[0], probs[0])
    onehot = np.eye(12)[true[0]][..., 1:].reshape(-1)
    expected = average_precision_score(onehot, probs[0][..., 1:].reshape(-1))
    assert present[12] and ap[12] == pytest.approx(expected, abs=1e-12)
    for c in range(12):
        assert present[c] == (true[0] == c).any()


def test_accumulating_batches_equals_one_pass():
    rng = np.random.default_rng(4)
    true, probs = _scenes(rng, 6)
    acc = M.ReconstructionMetrics(workers=1)
    for a, b in [(0, 1), (1, 4), (4, 6)]:
        acc.update(true[a:b], probs[a:b].argmax(-1), probs[a:b])
    once = M.evaluate_reconstruction(true, probs, workers=2)
    for key in ("IoU", "AP"):
        np.testing.assert_allclose(acc.result()[key], once[key], rtol=0, atol=1e-15)
    assert acc.num_scenes == 6


def test_bad_inputs_raise_clear_errors():
    true = np.zeros((1, 2, 2, 2), int)
    with pytest.raises(ValueError,
                       match=r"prediction: labels outside 0..11 \(found min 12, max 12\)"):
        M.iou_rows(true + 12, true)
    with pytest.raises(ValueError, match="same shape"):
        M.iou_rows(true[:, :1], true)
    with pytest.raises(ValueError, match="non-integer"):
        M.iou_rows(true + 0.5, true)
    with pytest.raises(ValueError, match=r"\+ \(12,\)"):
        M.ReconstructionMetrics().update(true, true, np.zeros((1, 2, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="nan"):
        M.evaluate_reconstruction(true, np.full((1, 2, 2, 2, 12), np.nan, np.float32))
    with pytest.raises(ValueError, match="no scenes"):
        M.ReconstructionMetrics().result()


def test_csv_as_the_original(tmp_path):
    rows = np.linspace(0, 1, 13) / 3
    M.save_rows(tmp_path / "IoU.csv", rows)
    lines = (tmp_path / "IoU.csv").read_text().splitlines()
    assert len(lines) == 13
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "IoU.csv"), np.round(rows, 3))
    table = M.format_table({"IoU": rows, "AP": rows})
    assert table.splitlines()[-1].startswith("all") and len(table.splitlines()) == 14


def test_jaccard_by_hand_and_against_sets():
    true = np.zeros((2, 1, 1, 4), int)
    pred = np.zeros_like(true)
    true[0, 0, 0] = [1, 1, 2, 0]
    pred[0, 0, 0] = [1, 2, 2, 2]
    pred[1, 0, 0] = [0, 0, 0, 1]
    rows = M.jaccard_from_counts(M.label_counts(pred, true))
    # class 1: scene 0 |{0}| / |{0, 1}| = 1/2; scene 1: 0 / 1 -> mean 1/4
    # class 2: scene 0 |{2}| / |{1, 2, 3}| = 1/3 (scene 1 has no class 2)
    # all (1..11): scene 0 (1 + 1) / (2 + 3) = 2/5; scene 1: 0 / 1 -> mean 1/5
    assert rows[1] == pytest.approx(0.25) and rows[2] == pytest.approx(1 / 3)
    assert rows[12] == pytest.approx(0.2) and np.isnan(rows[3])
    # random volumes: per-scene sets, perfect prediction scores 1
    rng = np.random.default_rng(3)
    true, probs = _scenes(rng, 4)
    pred = probs.argmax(-1)
    fast = M.evaluate_reconstruction(true, probs, workers=1)["Jaccard"]
    for c in (0, 4, 11):
        vals = [np.sum((pred[n] == c) & (true[n] == c)) / np.sum((pred[n] == c) | (true[n] == c))
                for n in range(4) if np.any((pred[n] == c) | (true[n] == c))]
        assert fast[c] == pytest.approx(np.mean(vals), abs=1e-12)
    perfect = M.jaccard_from_counts(M.label_counts(true, true))
    np.testing.assert_allclose(perfect[~np.isnan(perfect)], 1.0)
