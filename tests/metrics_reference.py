"""Reference reconstruction metrics written as the original's evaluation loops.

A plain, slow transcription of the IoU and AP loops of 3D-FCR-alphaGAN's
``evaluate.py`` (float64 one-hot volumes of all scenes, scikit-learn once per
scene and class). It exists to check :mod:`evaluation.metrics` and to give the
benchmark its baseline; use :mod:`evaluation.metrics` for real work.

Facts kept from the original:

- one-hot volumes are float64 ``[N, X, Y, Z, C]``;
- IoU of class ``c`` for scene ``n``: ``child / mother`` with
  ``child = sum(pred_c * true_c)`` and ``mother = sum(pred_c + true_c)``; the
  class value is the mean over the scenes with ``mother != 0``; row "all" uses
  the channels ``1..C-1`` together;
- AP of class ``c``: ``average_precision_score(true_c, probs_c)`` per scene whose
  truth holds the class, summed and divided by the number of scenes ``N``; row
  "all" flattens the channels ``1..C-1`` of a scene into one vector.

Where the original divides ``0 / 0`` (a class in no prediction and no truth) and
stops with ``ZeroDivisionError``, this reference gives ``nan``.
"""
import numpy as np
from sklearn.metrics import average_precision_score


def onehot(labels, num_classes):
    """Float64 one-hot ``[N, X, Y, Z, C]`` of integer-valued labels ``[N, X, Y, Z]``."""
    out = np.zeros(labels.shape + (num_classes,))
    for c in range(num_classes):
        out[..., c][labels == c] = 1
    return out


def _mean_ratio(child, mother):
    total, count = 0.0, 0
    for i in range(len(mother)):
        if mother[i] != 0:
            total += child[i] / mother[i]
            count += 1
    return total / count if count else float("nan")


def reference_iou(pred, true, num_classes=12):
    """IoU rows ``[C + 1]`` (classes, then "all" over 1..C-1) from label volumes."""
    on_pred = onehot(np.asarray(pred), num_classes)
    on_true = onehot(np.asarray(true), num_classes)
    rows = np.zeros(num_classes + 1)
    for c in range(num_classes):
        mother = np.sum(on_pred[..., c] + on_true[..., c], (1, 2, 3))
        child = np.sum(on_pred[..., c] * on_true[..., c], (1, 2, 3))
        rows[c] = _mean_ratio(child, mother)
    mother = np.sum(on_pred[..., 1:] + on_true[..., 1:], (1, 2, 3, 4))
    child = np.sum(on_pred[..., 1:] * on_true[..., 1:], (1, 2, 3, 4))
    rows[num_classes] = _mean_ratio(child, mother)
    return rows


def reference_ap(true, probs):
    """AP rows ``[C + 1]`` from labels ``[N, X, Y, Z]`` and probabilities ``[N, X, Y, Z, C]``."""
    probs = np.asarray(probs)
    num, num_classes = probs.shape[0], probs.shape[-1]
    on_true = onehot(np.asarray(true), num_classes)
    rows = np.zeros(num_classes + 1)
    for c in range(num_classes):
        total = 0.0
        for i in range(num):
            y_true = on_true[i, ..., c].reshape(-1)
            if np.sum(y_true) > 0:
                total += average_precision_score(y_true, probs[i, ..., c].reshape(-1))
        rows[c] = total / num
    total = 0.0
    for i in range(num):
        y_true = on_true[i, ..., 1:].reshape(-1)
        if np.sum(y_true) > 0:
            total += average_precision_score(y_true, probs[i, ..., 1:].reshape(-1))
    rows[num_classes] = total / num
    return rows
