"""models.air.set_loss against an independent numpy reference: the least loss over every
assignment of the true primitives to their own candidates (all permutations)."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from models.air import heads, make_config
from models.air.set_loss import set_loss

SPHERE, CUBE, CYLINDER = 0, 1, 2


def _cube_group():
    """The 24 rotations of the cube: signed permutation matrices of determinant +1."""
    group = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            g = np.zeros((3, 3))
            g[range(3), perm] = signs
            if np.isclose(np.linalg.det(g), 1.0):
                group.append(g)
    assert len(group) == 24
    return group


GROUP = _cube_group()


def _rotations(rng, n):
    q = np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(n)])
    return q * np.linalg.det(q)[:, None, None]


def _pair_cost(cand, prim, w):
    """``C[s, j]`` of the docstring of models.air.losses, from its formula."""
    z, logits, pos, rot = cand
    c, p, r = prim
    softplus = np.log1p(np.exp(-z))
    ce = np.log(np.exp(logits).sum()) - logits[c]
    l1 = np.abs(pos - p).sum()
    if c == CUBE:
        cos = max((np.trace(rot.T @ r @ g) - 1) / 2 for g in GROUP)
    elif c == CYLINDER:
        cos = abs(rot[:, 2] @ r[:, 2])
    else:
        cos = 1.0
    return w["presence"] * softplus + w["type"] * ce + w["position"] * l1 + \
        w["rotation"] * (1 - cos)


def _reference(pred, target, w, sorted_order=False):
    """Per scene: min over injective maps primitive -> candidate of
    sum_j C[pi(j), j] + sum_{s not in pi} w_presence softplus(z_s)."""
    out = []
    for b in range(len(target["types"])):
        present = [j for j, t in enumerate(target["types"][b]) if t >= 0]
        cands = [(pred["presence_logit"][b, s], pred["type_logits"][b, s],
                  pred["position"][b, s], pred["rotation"][b, s])
                 for s in range(pred["presence_logit"].shape[1])]
        prims = {j: (target["types"][b, j], target["positions"][b, j], target["rotations"][b, j])
                 for j in present}
        absent = [w["presence"] * np.log1p(np.exp(c[0])) for c in cands]
        maps = [tuple(present)] if sorted_order else \
            itertools.permutations(range(len(cands)), len(present))
        best = np.inf
        for slots in maps:
            total = sum(_pair_cost(cands[s], prims[j], w) for s, j in zip(slots, present))
            total += sum(a for s, a in enumerate(absent) if s not in slots)
            best = min(best, total)
        out.append(best)
    return np.array(out)


class FixedCandidates:
    """A stand-in network: always the same candidates, under a given head."""

    def __init__(self, head, candidates):
        self.head_type = heads.get(head)
        self.candidates = {k: tf.constant(v, tf.float32) for k, v in candidates.items()}

    def __call__(self, images):
        return self.candidates


def _problem(seed, b=6, s=4, k=3):
    rng = np.random.default_rng(seed)
    pred = {"presence_logit": rng.normal(size=(b, s)) * 2,
            "type_logits": rng.normal(size=(b, s, 3)),
            "position": rng.uniform(-1, 1, size=(b, s, 3)),
            "rotation": _rotations(rng, b * s).reshape(b, s, 3, 3)}
    types = rng.integers(0, 3, size=(b, k))
    types[rng.uniform(size=(b, k)) < 0.3] = -1
    types[0] = -1                                   # a scene with nothing
    types[1] = [CUBE, CYLINDER, SPHERE][:k]         # every type present
    target = {"types": types.astype(np.int32), "positions": rng.uniform(-1, 1, size=(b, k, 3)),
              "rotations": _rotations(rng, b * k).reshape(b, k, 3, 3),
              "images": np.zeros((b, 8, 8, 1), np.float32)}
    return pred, target


@pytest.mark.parametrize("seed,matching", [(0, "hungarian"), (1, "hungarian"), (2, "sorted")])
def test_slot_set_loss_is_the_least_loss_over_all_assignments(seed, matching):
    # the reference's order pairs slot k with primitive k: as many slots as primitives
    pred, target = _problem(seed, s=3 if matching == "sorted" else 4)
    config = make_config({"head": "slots", "matching": matching, "w_rotation": 2.5,
                          "w_position": 0.7})
    w = {t: config[f"w_{t}"] for t in ("presence", "type", "position", "rotation")}
    per_example, terms = set_loss(FixedCandidates("slots", pred),
                                  {k: tf.constant(v) for k, v in target.items()}, config)
    expected = _reference(pred, target, w, sorted_order=matching == "sorted")
    np.testing.assert_allclose(per_example.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert set(terms) == {"presence", "type", "position", "rotation"}
    weighted = sum(w[k] * terms[k].numpy() for k in w)
    np.testing.assert_allclose(weighted, per_example.numpy(), rtol=1e-5, atol=1e-5)


def test_sorted_order_costs_at_least_the_best_assignment():
    pred, target = _problem(3, s=3)
    batch = {k: tf.constant(v) for k, v in target.items()}
    losses = {m: set_loss(FixedCandidates("slots", pred), batch,
                          make_config({"head": "slots", "matching": m}))[0].numpy()
              for m in ("hungarian", "sorted")}
    assert np.all(losses["hungarian"] <= losses["sorted"] + 1e-5)
    assert np.any(losses["hungarian"] < losses["sorted"] - 1e-3)


@pytest.mark.slow
def test_grid_cells_far_from_every_primitive_are_taught_absent_and_near_ones_are_not():
    """Grid head: with ``ignore_radius`` 0 the loss is the slot loss of the same candidates
    (plus nothing); with a radius covering every cell, unassigned cells cost nothing."""
    pred, target = _problem(4, s=16)
    side = 4
    u = (np.arange(side) + 0.5) / side * 2 - 1
    uu, vv = np.meshgrid(u, -u)
    pred["image_uv"] = np.broadcast_to(np.stack([uu.ravel(), vv.ravel()], -1),
                                       (6, side * side, 2)).copy()
    batch = {k: tf.constant(v) for k, v in target.items()}
    w = {t: 1.0 for t in ("presence", "type", "position")}
    w["rotation"] = 3.0
    # No prior and no ignored cells: the plain set loss, neighbour term zero.
    loss, terms = set_loss(FixedCandidates("grid", pred), batch,
                           make_config({"head": "grid", "w_prior": 0.0, "ignore_radius": 0.0}))
    np.testing.assert_allclose(loss.numpy(), _reference(pred, target, w), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(terms["neighbour_uv"].numpy(), 0.0)
    # Every cell near a primitive: unassigned cells are not taught "absent".
    _, terms = set_loss(FixedCandidates("grid", pred), batch,
                        make_config({"head": "grid", "w_prior": 0.0, "ignore_radius": 1e3}))
    counts = (target["types"] >= 0).sum(1)
    z = pred["presence_logit"]
    # nothing present: nothing is near, every cell is taught "absent"
    assert terms["presence"].numpy()[0] == pytest.approx(np.log1p(np.exp(z[0])).sum(), rel=1e-5)
    for b in np.flatnonzero(counts):
        # only the assigned cells' -log sigmoid(z) remain: at most the sum over the counts'
        # least costly cells, at least the smallest one times the count
        per_cell = np.log1p(np.exp(-z[b]))
        assert np.sort(per_cell)[:counts[b]].sum() - 1e-4 <= terms["presence"].numpy()[b]
        assert terms["presence"].numpy()[b] <= np.sort(per_cell)[-counts[b]:].sum() + 1e-4
