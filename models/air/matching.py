"""Assignment of the true primitives to candidates (slots or grid cells).

``match_slots(cost, present)`` gives every present primitive its own
candidate so that the summed cost is least: the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``, O(S K^2)) on the
``[S candidates, K' present primitives]`` cost matrix of each scene. The result is
per candidate the index of its primitive, -1 for none. ``sorted_slots`` is the
reference's fixed assignment (slot ``k`` <-> the ``k``-th primitive by x, as the
targets are stored).
"""
import numpy as np
from scipy.optimize import linear_sum_assignment


def match_slots(cost, present):
    """``cost [B, S, K]``, ``present [B, K]`` (bool) -> ``[B, S]`` int32 target index or -1."""
    cost = np.asarray(cost, np.float64)
    present = np.asarray(present, bool)
    if cost.ndim != 3 or present.shape != (cost.shape[0], cost.shape[2]):
        raise ValueError(f"cost must be [B, S, K] and present [B, K], got {cost.shape} "
                         f"and {present.shape}")
    if np.any(present.sum(axis=1) > cost.shape[1]):
        raise ValueError("more primitives than candidates")
    out = np.full(cost.shape[:2], -1, np.int32)
    for b in range(cost.shape[0]):
        targets = np.flatnonzero(present[b])
        if targets.size == 0:
            continue
        rows, cols = linear_sum_assignment(np.nan_to_num(cost[b][:, targets], nan=1e9,
                                                         posinf=1e9, neginf=-1e9))
        out[b, rows] = targets[cols]
    return out


def sorted_slots(present):
    """The reference's assignment: slot ``k`` <-> target ``k`` if present, else -1 (``[B, K]``)."""
    present = np.asarray(present, bool)
    return np.where(present, np.arange(present.shape[1])[None, :], -1).astype(np.int32)
