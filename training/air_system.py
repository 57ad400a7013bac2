"""AIR 3D primitives as a ``TrainSystem`` of the shared loop.

One step (``train_step``), per replica, on a batch of rendered scenes
(with ``repeat``, each image joined to its canvas, ``network_inputs``):

1. mirror half of the scenes (``mirror``): the image flipped left-right is
   the scene mirrored through the plane ``x = y``, which holds the view axis
   of the isometric camera: positions swap x and y, rotations become
   ``P R P`` (``P`` swaps x and y; every primitive is mirror-symmetric);
2. the network's candidates (grid cells or slots) are assigned to the true
   primitives: Hungarian matching of the set loss's cost
   (``models.air.losses``) plus, for grid cells, ``w_prior`` times the
   distance in cells from the cell's centre to the primitive's image point
   (it makes the cell under a primitive its candidate), or the reference's
   x order (``matching = "sorted"``, slot head only); unassigned cells within
   ``ignore_radius`` cells of a primitive are not taught "absent" (they see
   it too) but are taught its image point (term ``neighbour_uv``, weighted as
   positions), so that such duplicates merge (``models.air.model``);
3. the loss of that assignment, plus for the glimpse head the readings of
   windows cut around every true primitive (its image point jittered by
   ``glimpse_jitter`` pixels), with the same type, position and rotation
   terms;
4. AdamW: decoupled weight decay ``learning_rate * weight_decay`` on kernels
   only (no decay of biases), learning rate warmed up linearly then cosine
   decayed to 0 over the run.

Hooks: after every evaluation of the validation set the system keeps a copy
of the weights if the validation loss is the lowest so far and records the
epoch's mean training terms and the predictions for a few fixed validation
scenes (the frames of the "predictions improving" animation);
``on_train_end`` restores the best weights.
"""
import numpy as np
import tensorflow as tf

from models.air import build_air_model_3d, losses, matching
from models.air.explain import predict_slots
from models.air.grid_head import cell_centres, image_uv
from training.system import TrainSystem

TARGET_KEYS = ("images", "types", "positions", "rotations")


def mirror_batch(batch, flip):
    """Scenes of ``batch`` mirrored through ``x = y`` where ``flip [B]`` is true.

    ``P R P`` (``P`` swaps x and y) is ``R`` with rows and columns 0 and 1
    swapped: written as gathers, since a broadcast ``P @ R @ P`` inside a select
    corrupts memory in TensorFlow's CPU graph mode when scenes hold one primitive.
    """
    f = tf.reshape(flip, [-1, 1, 1, 1])
    pos, rot = batch["positions"], batch["rotations"]
    swap = [1, 0, 2]
    return dict(batch,
                images=tf.where(f, batch["images"][:, :, ::-1], batch["images"]),
                positions=tf.where(f[..., 0], tf.gather(pos, swap, axis=-1), pos),
                rotations=tf.where(f, tf.gather(tf.gather(rot, swap, axis=-2), swap, axis=-1),
                                   rot))


def network_inputs(data, config, rng, workers=1):
    """The arrays the network is taught from: ``data`` itself, or with ``repeat`` the
    images joined to a canvas of some of their primitives
    (``models.air.scenes.explained_canvases``), those primitives no longer targets
    (type -1: their cells are taught "absent")."""
    from models.air.model import input_channels

    if input_channels(config) == 1:
        return data
    from models.air.scenes import explained_canvases

    canvas, explained = explained_canvases(data, rng, config["canvas_rate"],
                                           config["canvas_jitter"], 0.1, config["image_size"],
                                           config["supersample"], workers)
    return dict(data, images=np.concatenate([data["images"], canvas], -1),
                types=np.where(explained, -1, data["types"]).astype(np.int32))


def dataset_fn(data, batch_size, shuffle_seed=None, versions=()):
    """A loop dataset function over the arrays ``data`` (one epoch, per-replica batches).

    ``shuffle_seed(epoch)`` -> seed of that epoch's order, or None for a
    fixed order (evaluation); the epoch counts the calls. ``versions``: other
    renderings of the same scenes (dicts like ``data``, e.g. the scenes turned
    about the view axis); each epoch shows every scene in one of its versions,
    drawn with the epoch's seed.
    """
    calls = {"epoch": 0}
    versions = [data] + list(versions)

    def make(context):
        per_replica = context.get_per_replica_batch_size(batch_size)
        arrays = {k: data[k] for k in TARGET_KEYS}
        if shuffle_seed is not None and len(versions) > 1:
            rng = np.random.default_rng(shuffle_seed(calls["epoch"]))
            pick = rng.integers(0, len(versions), size=len(data["images"]))
            arrays = {k: data[k].copy() for k in TARGET_KEYS}
            for index, version in enumerate(versions[1:], 1):
                for k in TARGET_KEYS:
                    arrays[k][pick == index] = version[k][pick == index]
        ds = tf.data.Dataset.from_tensor_slices(arrays)
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        if shuffle_seed is not None:
            ds = ds.shuffle(len(data["images"]), seed=shuffle_seed(calls["epoch"]))
            calls["epoch"] += 1
        return ds.batch(per_replica, drop_remainder=shuffle_seed is not None).prefetch(2)

    return make


class AIRSystem(TrainSystem):
    """The AIR 3D inference network trained on synthetic scenes (``config``: ``models.air.config``)."""

    name = "air3d"

    def __init__(self, config, steps_per_epoch, snapshot_images=None):
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * config["n_epochs"]
        self.weights = {t: float(config[f"w_{t}"]) for t in losses.TERMS}
        self.snapshot_images = snapshot_images
        self.best = {"loss": float("inf"), "epoch": 0, "weights": None}
        self.history = []
        self.snapshots = []

    # -- the contract ---------------------------------------------------------------
    def build(self):
        import keras

        cfg = self.config
        self.model = build_air_model_3d(cfg)
        warmup = int(round(cfg["warmup_epochs"] * self.steps_per_epoch))
        warmup = min(warmup, self.total_steps - 1)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else cfg["learning_rate"], max(self.total_steps - warmup, 1),
            alpha=0.0, warmup_target=cfg["learning_rate"] if warmup else None,
            warmup_steps=warmup)
        self.schedule = schedule
        self.optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg["weight_decay"])
        self.optimizer.exclude_from_weight_decay(var_names=["bias"])
        self.optimizer.build(self.model.trainable_variables)
        sync = dict(synchronization=tf.VariableSynchronization.ON_READ,
                    aggregation=tf.VariableAggregation.SUM, trainable=False)
        self.term_sums = {name: tf.Variable(0.0, name=f"sum_{name}", **sync)
                          for name in self._term_names()}
        self.examples_seen = tf.Variable(0.0, name="examples_seen", **sync)

    def checkpoint_items(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def model_config(self):
        from models.air.config import model_config
        return model_config(self.config)

    def run_config(self):
        return {k: v for k, v in self.config.items() if k not in self.model_config()}

    def train_step(self, batch, step, phase):
        cfg = self.config
        global_batch = cfg["batch_size"]
        seed = tf.stack([tf.cast(step, tf.int32), tf.constant(cfg["seed"], tf.int32)])
        if cfg["mirror"]:
            flip = tf.random.stateless_uniform([tf.shape(batch["images"])[0]], seed) < 0.5
            batch = mirror_batch(batch, flip)
        with tf.GradientTape() as tape:
            per_example, terms = self.per_example_loss(batch, seed + 1)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
        variables = self.model.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        out = {"loss": loss}
        for name, value in terms.items():
            out[name] = tf.nn.compute_average_loss(value, global_batch_size=global_batch)
            self.term_sums[name].assign_add(tf.reduce_sum(value))
        self.examples_seen.assign_add(tf.cast(tf.shape(per_example)[0], tf.float32))
        return out, {"learning_rate": self.schedule(step)}

    def eval_step(self, batch):
        per_example, terms = self.per_example_loss(batch, None)
        global_batch = self.config["batch_size"]
        out = {"loss": tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)}
        out.update({k: tf.nn.compute_average_loss(v, global_batch_size=global_batch)
                    for k, v in terms.items()})
        return out

    def on_evaluation(self, step, name, result):
        epoch = int(round(step / self.steps_per_epoch))
        seen = float(self.examples_seen.numpy())
        train = {k: float(v.numpy()) / max(seen, 1.0) for k, v in self.term_sums.items()}
        weight = lambda k: self.weights["position"] if k == "neighbour_uv" else \
            self.weights[k.removeprefix("glimpse_")]  # noqa: E731
        train["loss"] = sum(weight(k) * v for k, v in train.items())
        for v in list(self.term_sums.values()) + [self.examples_seen]:
            v.assign(0.0)
        val = {k: v for k, v in result.items() if k != "examples"}
        self.history.append({"epoch": epoch, "step": step, "train": train, "val": val})
        if result["loss"] < self.best["loss"]:
            self.best = {"loss": result["loss"], "epoch": epoch,
                         "weights": [w.numpy() for w in self.model.weights]}
        if self.snapshot_images is not None:
            slots = predict_slots(self.model, self.snapshot_images, self.config)
            self.snapshots.append({"epoch": epoch, **slots})

    def on_train_end(self, step):
        if self.best["weights"] is not None:
            for variable, value in zip(self.model.weights, self.best["weights"]):
                variable.assign(value)

    # -- the loss ---------------------------------------------------------------------
    def _term_names(self):
        names = list(losses.TERMS)
        if self.config["head"] != "slots":
            names.append("neighbour_uv")
        if self.config["head"] == "glimpse":
            names += ["glimpse_type", "glimpse_position", "glimpse_rotation"]
        return names

    def per_example_loss(self, batch, seed):
        """Per-example loss ``[B]`` and its terms (dict of ``[B]``)."""
        cfg = self.config
        candidates = self.model(batch["images"])
        costs = losses.pair_costs(candidates, batch)
        absent = losses.absent_cost(candidates)
        present = batch["types"] >= 0
        prior, near = None, None
        if cfg["head"] != "slots":
            distance = self.cell_distance(candidates, batch)                   # [B, S, K]
            prior = cfg["w_prior"] * distance
            distance = tf.where(present[:, None, :], distance, 1e9)
            near = tf.reduce_min(distance, -1) < cfg["ignore_radius"]        # [B, S]
            absent *= 1.0 - tf.cast(near, tf.float32)
        if cfg["matching"] == "sorted":
            assignment = tf.where(present, tf.range(tf.shape(present)[1])[None, :], -1)
        else:
            cost = losses.matching_cost(costs, absent, self.weights, prior)
            assignment = tf.numpy_function(matching.match_slots,
                                           [tf.stop_gradient(cost), present], tf.int32)
            assignment = tf.ensure_shape(assignment, candidates["presence_logit"].shape)
        terms = losses.assigned_terms(costs, absent, assignment)
        per_example = losses.total_loss(terms, self.weights)
        if near is not None:
            # Unassigned cells near a primitive point at it too, so that duplicates merge.
            nearest = tf.argmin(distance, -1, output_type=tf.int32)
            target_uv = tf.gather(image_uv(batch["positions"]), nearest, batch_dims=1)
            error = tf.reduce_sum(tf.abs(candidates["image_uv"] - target_uv), -1)
            others = tf.cast(near & (assignment < 0), tf.float32)
            terms["neighbour_uv"] = tf.reduce_sum(error * others, -1)
            per_example += self.weights["position"] * terms["neighbour_uv"]
        if cfg["head"] == "glimpse":
            glimpse_terms = self.glimpse_terms(batch, seed)
            per_example += tf.add_n([self.weights[k] * v for k, v in glimpse_terms.items()])
            terms.update({f"glimpse_{k}": v for k, v in glimpse_terms.items()})
        return per_example, terms

    def cell_distance(self, candidates, batch):
        """Distance in cells ``[B, S, K]`` of each cell centre to each primitive's image point."""
        cells = candidates["presence_logit"].shape[1]
        side = int(round(cells ** 0.5))
        centres = tf.constant(cell_centres(side, side))
        uv = image_uv(batch["positions"])
        return tf.norm(centres[None, :, None, :] - uv[:, None, :, :], axis=-1) / (2.0 / side)

    def glimpse_terms(self, batch, seed):
        """Per-example sums of the glimpse readings' terms around every true primitive."""
        present = batch["types"] >= 0
        index = tf.cast(tf.where(present), tf.int32)                     # [N, 2]: scene, slot
        points = image_uv(batch["positions"])                            # [B, K, 2]
        uv = tf.gather_nd(points, index)
        if seed is not None:
            pixel = 2.0 / self.config["image_size"]
            uv += tf.random.stateless_normal(tf.shape(uv), seed) * self.config["glimpse_jitter"] * pixel
            # A window reads the primitive whose image point is nearest to its centre.
            others = tf.gather(points, index[:, 0])                      # [N, K, 2]
            distance = tf.norm(others - uv[:, None], axis=-1)
            distance = tf.where(tf.gather(present, index[:, 0]), distance, 1e9)
            index = tf.stack([index[:, 0], tf.argmin(distance, -1, output_type=tf.int32)], -1)
        read = self.model.read(batch["images"], index[:, 0], uv)
        terms = losses.object_terms(read, tf.gather_nd(batch["types"], index),
                                    tf.gather_nd(batch["positions"], index),
                                    tf.gather_nd(batch["rotations"], index))
        scenes = tf.shape(present)[0]
        return {k: tf.math.unsorted_segment_sum(v, index[:, 0], scenes) for k, v in terms.items()}
