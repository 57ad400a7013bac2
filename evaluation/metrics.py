"""Reconstruction metrics of FCR-alphaGAN: per-class IoU and AP, fast and light.

The numbers are those of the original ``evaluate.py`` (the tests hold a
literal transcription, ``tests/metrics_reference.py``); only the way they are
computed differs.

Facts kept from the original (``C = 12`` classes, 13 rows: classes ``0..11``,
then "all" over the classes ``1..11``):

- IoU of class ``c`` in scene ``n`` is ``|P_c & T_c| / (|P_c| + |T_c|)`` -- the
  original's union is the *sum* of the two one-hot volumes, so a perfect
  reconstruction scores 0.5, not 1. The class value is the mean over the scenes
  where ``|P_c| + |T_c| > 0``; "all" sums numerator and denominator over the
  classes ``1..11`` of a scene first. A class found in no scene at all has no
  value: ``nan`` here (the original stops with ``ZeroDivisionError``).
- AP of class ``c`` is scikit-learn's ``average_precision_score(T_c, probs_c)``
  over the voxels of one scene, for the scenes whose truth holds the class,
  summed and divided by the number of *all* scenes (scenes without the class
  count as 0). "all" scores the channels ``1..11`` of a scene as one flattened
  vector. The scores are the softmax probabilities (of the generator, or of the
  refiner for the ``_refine`` files).
- The CSV files hold the 13 values rounded to 3 decimals (``np.round(x, 3)``),
  one per line, written with ``np.savetxt``.

How it is fast: IoU comes from a ``C x C`` table of label counts per scene
(``np.bincount(pred * C + true)``) instead of float64 one-hot volumes; AP is an
exact sort-based computation (one ``np.sort`` per class and scene; the "all" row
reuses those sorted columns through ``np.searchsorted`` instead of sorting the
11-channel vector) that equals scikit-learn to rounding (ties included), and
scenes are spread over a thread pool (numpy releases the GIL while sorting).
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from data_provider.voxel_classes import CLASS_NAMES, NUM_CLASSES, check_labels

ROW_NAMES = CLASS_NAMES + ("all",)


def _labels(volume, name, num_classes):
    """Integer labels of ``volume`` as ``intp``; ValueError if any is not in ``0..C-1``."""
    return check_labels(volume, name, num_classes).astype(np.intp, copy=False)


def label_counts(pred, true, num_classes=NUM_CLASSES):
    """Per-scene label count table ``counts[n, p, t]`` (int64 ``[N, C, C]``).

    ``counts[n, p, t]`` is the number of voxels of scene ``n`` predicted ``p``
    whose true label is ``t``; pred and true are label volumes ``[N, X, Y, Z]``.
    """
    pred = _labels(pred, "prediction", num_classes)
    true = _labels(true, "truth", num_classes)
    if pred.shape != true.shape or pred.ndim < 2:
        raise ValueError(f"prediction {pred.shape} and truth {true.shape} must be label "
                         "volumes of the same shape [N, X, Y, Z]")
    cc = num_classes * num_classes
    counts = np.empty((pred.shape[0], cc), np.int64)
    for n in range(pred.shape[0]):
        counts[n] = np.bincount((pred[n] * num_classes + true[n]).reshape(-1), minlength=cc)
    return counts.reshape(-1, num_classes, num_classes)


def _mean_over_nonzero(child, mother):
    mask = mother != 0
    if not mask.any():
        return float("nan")
    return float(np.mean(child[mask] / mother[mask]))


def iou_from_counts(counts):
    """IoU rows ``[C + 1]`` from label count tables ``[N, C, C]`` (see module docstring).

    per scene ``n`` and class ``c``: ``inter = counts[n, c, c]``,
    ``mother = sum_t counts[n, c, t] + sum_p counts[n, p, c]``;
    ``IoU_c = mean_n(inter / mother)`` over the scenes with ``mother > 0``;
    "all": ``sum_{c>=1} inter / sum_{c>=1} mother`` per scene, then the same mean.
    """
    counts = np.asarray(counts, np.float64)
    num_classes = counts.shape[-1]
    inter = np.diagonal(counts, axis1=1, axis2=2)
    mother = counts.sum(axis=2) + counts.sum(axis=1)
    rows = np.empty(num_classes + 1)
    for c in range(num_classes):
        rows[c] = _mean_over_nonzero(inter[:, c], mother[:, c])
    rows[num_classes] = _mean_over_nonzero(inter[:, 1:].sum(1), mother[:, 1:].sum(1))
    return rows


def jaccard_from_counts(counts):
    """Jaccard rows ``[C + 1]`` (the usual IoU) from label count tables ``[N, C, C]``.

    per scene ``n`` and class ``c``: ``|P_c & T_c| / |P_c | T_c|`` with the union
    ``|P_c| + |T_c| - |P_c & T_c|`` (a perfect reconstruction scores 1); the class value
    is the mean over the scenes with a non-empty union; "all" sums intersections and
    unions over the classes ``1..C-1`` of a scene first. Not in the original, which
    reports :func:`iou_from_counts` (``J / (1 + J)`` per scene and class).
    """
    counts = np.asarray(counts, np.float64)
    num_classes = counts.shape[-1]
    inter = np.diagonal(counts, axis1=1, axis2=2)
    union = counts.sum(axis=2) + counts.sum(axis=1) - inter
    rows = np.empty(num_classes + 1)
    for c in range(num_classes):
        rows[c] = _mean_over_nonzero(inter[:, c], union[:, c])
    rows[num_classes] = _mean_over_nonzero(inter[:, 1:].sum(1), union[:, 1:].sum(1))
    return rows


def iou_rows(pred, true, num_classes=NUM_CLASSES):
    """IoU rows ``[C + 1]`` of label volumes ``pred`` and ``true`` ``[N, X, Y, Z]``."""
    return iou_from_counts(label_counts(pred, true, num_classes))


def _ap_from_counts(tps, totals, num_pos):
    """``sum_k (R_k - R_{k-1}) * P_k`` with ``P_k = tps_k / totals_k``, ``R_k = tps_k /
    num_pos``."""
    tps = tps.astype(np.float64)
    precision = tps / totals
    recall = tps / tps[-1] if num_pos else np.ones_like(tps)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _thresholds(pos):
    """Distinct positive scores in descending order and the positives scoring at least each."""
    pos = np.sort(pos)
    last = np.empty(pos.size, bool)
    np.not_equal(pos[1:], pos[:-1], out=last[:-1])
    last[-1] = True
    values = pos[last][::-1]
    first = np.flatnonzero(np.concatenate(([True], last[:-1])))[::-1]
    return values, pos.size - first


def average_precision(positive, scores):
    """Average precision of one binary problem, equal to scikit-learn's.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score values ``s_k`` in
    descending order, with ``P_k`` the precision and ``R_k`` the recall of the
    decision ``score >= s_k``; tied scores form one threshold. Only thresholds
    that hold a positive change the recall, so only those are visited.
    """
    positive = np.asarray(positive).reshape(-1).astype(bool)
    scores = np.asarray(scores).reshape(-1)
    if not positive.any():
        raise ValueError("average_precision: no positive sample")
    values, tps = _thresholds(scores[positive])
    totals = scores.size - np.searchsorted(np.sort(scores), values, side="left")
    return _ap_from_counts(tps, totals, positive.sum())


def scene_average_precision(true, probs):
    """AP rows ``[C + 1]`` of one scene and which rows were scored.

    true: labels ``[X, Y, Z]``; probs: probabilities ``[X, Y, Z, C]``. Returns
    ``(ap, present)``; ``ap[c]`` is 0 where the class is not in the truth
    (``present[c]`` False), as the original skips those scenes.
    """
    num_classes = probs.shape[-1]
    labels = np.asarray(true).reshape(-1)
    scores = np.asarray(probs).reshape(-1, num_classes)
    size = labels.size
    ap = np.zeros(num_classes + 1)
    present = np.zeros(num_classes + 1, bool)
    sorted_cols = np.sort(scores.T, axis=1)
    for c in np.flatnonzero(np.bincount(labels, minlength=num_classes)):
        values, tps = _thresholds(scores[labels == c, c])
        totals = size - np.searchsorted(sorted_cols[c], values, side="left")
        ap[c], present[c] = _ap_from_counts(tps, totals, tps[0]), True
    occupied = np.flatnonzero(labels)
    if occupied.size:
        values, tps = _thresholds(scores[occupied, labels[occupied]])
        totals = np.zeros(values.size, np.int64)
        for c in range(1, num_classes):
            totals += size - np.searchsorted(sorted_cols[c], values, side="left")
        ap[num_classes], present[num_classes] = _ap_from_counts(tps, totals, tps[0]), True
    return ap, present


def default_workers():
    """Threads for the AP step: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class ReconstructionMetrics:
    """Accumulates IoU and AP over batches of scenes without keeping them.

    ``update(true, pred, probs)`` with labels ``[B, X, Y, Z]``, predicted labels
    ``[B, X, Y, Z]`` (the argmax of ``probs``) and probabilities
    ``[B, X, Y, Z, C]``; ``result()`` gives ``{"IoU": [C+1], "AP": [C+1], "Jaccard": [C+1]}`` as
    float64 arrays over all scenes seen. Memory: a ``C x C`` table and ``C + 1``
    AP values per scene.
    """

    def __init__(self, num_classes=NUM_CLASSES, workers=None):
        self.num_classes = num_classes
        self.workers = workers or default_workers()
        self._counts, self._ap_sum = [], np.zeros(num_classes + 1)
        self.num_scenes = 0

    def update(self, true, pred, probs):
        probs = np.asarray(probs)
        true_labels = _labels(true, "truth", self.num_classes)
        if probs.shape != true_labels.shape + (self.num_classes,):
            raise ValueError(f"probabilities {probs.shape} must be truth {true_labels.shape} "
                             f"+ ({self.num_classes},)")
        if not np.isfinite(probs).all():
            raise ValueError("probabilities contain nan or inf")
        self._counts.append(label_counts(pred, true_labels, self.num_classes))
        jobs = range(true_labels.shape[0])
        run = lambda n: scene_average_precision(true_labels[n], probs[n])[0]  # noqa: E731
        if self.workers > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(run, jobs))
        else:
            results = [run(n) for n in jobs]
        for ap in results:
            self._ap_sum += ap
        self.num_scenes += len(results)

    def result(self):
        if not self.num_scenes:
            raise ValueError("no scenes were evaluated")
        counts = np.concatenate(self._counts)
        return {"IoU": iou_from_counts(counts), "AP": self._ap_sum / self.num_scenes,
                "Jaccard": jaccard_from_counts(counts)}


def evaluate_reconstruction(true, probs, workers=None):
    """``{"IoU": rows, "AP": rows, "Jaccard": rows}`` of labels ``[N, X, Y, Z]`` and probabilities
    ``[N, X, Y, Z, C]``; the prediction is ``argmax(probs)``."""
    probs = np.asarray(probs)
    metrics = ReconstructionMetrics(probs.shape[-1], workers)
    metrics.update(true, np.argmax(probs, axis=-1), probs)
    return metrics.result()


def save_rows(path, rows, decimals=3):
    """Write the 13 rows as the original's CSV: rounded, one value per line."""
    np.savetxt(path, np.round(np.asarray(rows, np.float64), decimals), delimiter=",")


def format_table(results):
    """Text table: one line per row name, one column per metric in ``results``."""
    names = list(results)
    lines = ["class".ljust(10) + "".join(n.rjust(16) for n in names)]
    for i, row in enumerate(ROW_NAMES[:len(next(iter(results.values())))]):
        lines.append(row.ljust(10) + "".join(f"{results[n][i]:16.3f}" for n in names))
    return "\n".join(lines)
