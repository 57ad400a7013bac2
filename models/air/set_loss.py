"""AIR 3D set loss: the network's candidates against a scene's true primitives.

``set_loss(model, batch, config, seed)`` -> per-example loss ``[B]`` and its terms:

1. the candidates (grid cells or slots, ``model(images)``) are assigned to the
   true primitives: Hungarian matching (``models.air.matching``) of the cost
   ``C - A`` (``models.air.losses``) plus, for grid cells, ``w_prior`` times the
   distance in cells from the cell's centre to the primitive's image point (it
   makes the cell under a primitive its candidate), or the reference's x order
   (``matching = "sorted"``, slot head only); unassigned cells within
   ``ignore_radius`` cells of a primitive are not taught "absent" (they see it
   too) but are taught its image point (term ``neighbour_uv``, weighted as
   positions), so that such duplicates merge at inference;
2. the loss of that assignment, ``sum_j C[pi(j), j] + sum_{s not in pi} A[s]``;
3. for the glimpse head, the readings of windows cut around every true
   primitive (its image point jittered by ``glimpse_jitter`` pixels when
   ``seed`` is given, the window then teaching the primitive nearest its
   centre), with the same type, position and rotation terms (``glimpse_*``);
4. under a camera range, the camera read against the scene's (``camera``,
   ``losses.camera_cost``, weight ``w_camera``); positions and rotations are
   then those of the scene in its camera's frame (``scenes.in_camera_frame``).

What differs between heads comes from the head (``models.air.heads``:
``neighbours``, ``extra_terms``); the formulas are here and in ``losses``.
"""
import tensorflow as tf

from models.air import losses, matching
from models.air.grid_head import cell_centres, image_uv


def term_weights(config):
    """``{term: weight}`` of the four terms of ``C`` (``w_presence`` ...), and of ``camera``
    under a camera range."""
    weights = {t: float(config[f"w_{t}"]) for t in losses.TERMS}
    if config.get("camera_range") is not None:
        weights["camera"] = float(config["w_camera"])
    return weights


def term_weight(name, weights):
    """The weight of a term by name: ``neighbour_uv`` as positions, ``glimpse_x`` as ``x``."""
    return weights["position"] if name == "neighbour_uv" else \
        weights[name.removeprefix("glimpse_")]


def assign(costs, absent, present, weights, how, prior=None):
    """Candidate -> primitive index ``[B, S]`` (-1 none): ``"sorted"`` (slot ``k`` <->
    primitive ``k``) or the Hungarian matching of ``C - A (+ prior)``."""
    if how == "sorted":
        return tf.where(present, tf.range(tf.shape(present)[1])[None, :], -1)
    cost = losses.matching_cost(costs, absent, weights, prior)
    assignment = tf.numpy_function(matching.match_slots, [tf.stop_gradient(cost), present],
                                   tf.int32)
    return tf.ensure_shape(assignment, absent.shape)


def set_loss(model, batch, config, seed=None):
    """Per-example loss ``[B]`` and its terms (dict of ``[B]``, ``model.head_type.term_names()``).

    ``batch``: ``images``, ``types`` (-1 empty), ``positions``, ``rotations`` (and
    ``camera``, degrees, under a camera range);
    ``config``: the loss keys (``matching``, ``w_*``, ``ignore_radius``) and, for
    the glimpse head, ``image_size`` and ``glimpse_jitter``; ``seed``: the glimpse
    windows' jitter (None: windows on the true centres).
    """
    head = model.head_type
    weights = term_weights(config)
    candidates = model(batch["images"])
    costs = losses.pair_costs(candidates, batch)
    absent = losses.absent_cost(candidates)
    present = batch["types"] >= 0
    neighbours = head.neighbours(candidates, batch, config)
    prior = None
    if neighbours is not None:
        prior, near, _ = neighbours
        absent *= 1.0 - tf.cast(near, tf.float32)
    assignment = assign(costs, absent, present, weights, config["matching"], prior)
    terms = losses.assigned_terms(costs, absent, assignment)
    per_example = losses.total_loss(terms, weights)
    for group in head.extra_terms(model, candidates, batch, assignment, neighbours, config, seed):
        per_example += tf.add_n([weights[weight] * value for value, weight in group.values()])
        terms.update({name: value for name, (value, _) in group.items()})
    if "camera" in candidates:
        terms["camera"] = losses.camera_cost(candidates["camera"], batch["camera"])
        per_example += weights["camera"] * terms["camera"]
    return per_example, terms


def cell_distance(candidates, batch, camera="orthographic"):
    """Distance in cells ``[B, S, K]`` of each cell centre to each primitive's image point
    (seen by ``camera``)."""
    cells = candidates["presence_logit"].shape[1]
    side = int(round(cells ** 0.5))
    centres = tf.constant(cell_centres(side, side))
    uv = image_uv(batch["positions"], camera)
    return tf.norm(centres[None, :, None, :] - uv[:, None, :, :], axis=-1) / (2.0 / side)


def neighbour_uv(candidates, batch, assignment, near, distance, camera="orthographic"):
    """Per-example sum ``[B]`` of ``|image_uv - the nearest primitive's image point|_1`` over
    the unassigned cells near a primitive (``distance``: to present primitives only)."""
    nearest = tf.argmin(distance, -1, output_type=tf.int32)
    target_uv = tf.gather(image_uv(batch["positions"], camera), nearest, batch_dims=1)
    error = tf.reduce_sum(tf.abs(candidates["image_uv"] - target_uv), -1)
    others = tf.cast(near & (assignment < 0), tf.float32)
    return tf.reduce_sum(error * others, -1)


def glimpse_terms(model, batch, config, seed=None):
    """Per-example sums of the glimpse readings' terms around every true primitive."""
    present = batch["types"] >= 0
    index = tf.cast(tf.where(present), tf.int32)                     # [N, 2]: scene, slot
    points = image_uv(batch["positions"], config["camera"])          # [B, K, 2]
    uv = tf.gather_nd(points, index)
    if seed is not None:
        pixel = 2.0 / config["image_size"]
        uv += tf.random.stateless_normal(tf.shape(uv), seed) * config["glimpse_jitter"] * pixel
        # A window reads the primitive whose image point is nearest to its centre.
        others = tf.gather(points, index[:, 0])                      # [N, K, 2]
        distance = tf.norm(others - uv[:, None], axis=-1)
        distance = tf.where(tf.gather(present, index[:, 0]), distance, 1e9)
        index = tf.stack([index[:, 0], tf.argmin(distance, -1, output_type=tf.int32)], -1)
    read = model.read(batch["images"], index[:, 0], uv)
    terms = losses.object_terms(read, tf.gather_nd(batch["types"], index),
                                tf.gather_nd(batch["positions"], index),
                                tf.gather_nd(batch["rotations"], index))
    scenes = tf.shape(present)[0]
    return {k: tf.math.unsorted_segment_sum(v, index[:, 0], scenes) for k, v in terms.items()}
