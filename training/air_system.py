"""AIR 3D primitives as a ``TrainSystem`` of the shared loop.

One step (``train_step``), per replica, on a batch of rendered scenes
(with ``repeat``, each image joined to its canvas, ``network_inputs``):

1. mirror half of the scenes (``mirror``): the image flipped left-right is
   the scene mirrored through the plane ``x = y``, which holds the view axis
   of the isometric camera (and the perspective camera's eye): positions
   swap x and y, rotations become ``P R P`` (``P`` swaps x and y; every
   primitive is mirror-symmetric); under a camera range (positions in each
   scene's camera frame) it is the scene and its camera mirrored through
   ``x = y`` in the world, the azimuth ``az`` becoming ``90 - az`` (the markers
   are symmetric under that mirror);
2. the set loss of the network's candidates (``models.air.set_loss``);
3. AdamW: decoupled weight decay ``learning_rate * weight_decay`` on kernels
   only (no decay of biases), learning rate warmed up linearly then cosine
   decayed to 0 over the run.

After every evaluation of the validation set the system records the
epoch's mean training terms and validation terms, keeps a copy of the
weights if the validation loss is the lowest so far, and the predictions
for a few fixed validation scenes (the frames of the "predictions
improving" animation); ``on_train_end`` restores the best weights.

All of that is in the checkpoint, so an interrupted run resumes where it
stopped (``train_air.py``): ``model`` holds the best weights so far (what
``models.restore`` rebuilds), ``training_model`` and ``optimizer`` the
training state, ``progress`` the history, the best epoch, the snapshots and
the training terms summed since the last evaluation.
"""
import numpy as np
import tensorflow as tf

from models.air import build_air_model_3d, set_loss
from models.air.search import predict_slots
from training.system import TrainSystem

SLOT_KEYS = ("presence_logit", "type_logits", "position", "rotation")

TARGET_KEYS = ("images", "types", "positions", "rotations", "camera")  # camera: camera range


def mirror_batch(batch, flip):
    """Scenes of ``batch`` mirrored through ``x = y`` where ``flip [B]`` is true.

    ``P R P`` (``P`` swaps x and y) is ``R`` with rows and columns 0 and 1
    swapped: written as gathers, since a broadcast ``P @ R @ P`` inside a select
    corrupts memory in TensorFlow's CPU graph mode when scenes hold one primitive.
    """
    f = tf.reshape(flip, [-1, 1, 1, 1])
    pos, rot = batch["positions"], batch["rotations"]
    swap = [1, 0, 2]
    out = dict(batch,
               images=tf.where(f, batch["images"][:, :, ::-1], batch["images"]),
               positions=tf.where(f[..., 0], tf.gather(pos, swap, axis=-1), pos),
               rotations=tf.where(f, tf.gather(tf.gather(rot, swap, axis=-2), swap, axis=-1),
                                  rot))
    if "camera" in batch:      # azimuth, elevation (degrees): az -> 90 - az
        camera = batch["camera"]
        mirrored = tf.stack([90.0 - camera[:, 0], camera[:, 1]], -1)
        out["camera"] = tf.where(f[:, :, 0, 0], mirrored, camera)
    return out


def network_inputs(data, config, rng, workers=1):
    """The arrays the network is taught from: ``data`` itself (under a camera range, in
    each scene's camera frame: ``models.air.scenes.in_camera_frame``), or with ``repeat``
    the images joined to a canvas of some of their primitives
    (``models.air.scenes.explained_canvases``), those primitives no longer targets
    (type -1: their cells are taught "absent")."""
    from models.air.config import input_channels
    from models.air.scenes import explained_canvases, in_camera_frame

    if config["camera_range"] is not None:
        data = in_camera_frame(data)
    if input_channels(config) == 1:
        return data

    canvas, explained = explained_canvases(data, rng, config["canvas_rate"],
                                           config["canvas_jitter"], 0.1, config["image_size"],
                                           config["supersample"], workers, config["camera"])
    return dict(data, images=np.concatenate([data["images"], canvas], -1),
                types=np.where(explained, -1, data["types"]).astype(np.int32))


def dataset_fn(data, batch_size, shuffle_seed=None, versions=(), first_epoch=0, skip=0):
    """A loop dataset function over the arrays ``data`` (one epoch, per-replica batches).

    ``shuffle_seed(epoch)`` -> seed of that epoch's order, or None for a
    fixed order (evaluation); the epoch counts the calls from ``first_epoch``.
    ``versions``: other renderings of the same scenes (dicts like ``data``,
    e.g. the scenes turned about the view axis); each epoch shows every scene
    in one of its versions, drawn with the epoch's seed. ``skip``: batches of
    the first epoch left out (those a resumed run has trained on already).
    """
    calls = {"epoch": first_epoch, "skip": skip}
    versions = [data] + list(versions)

    def make(context):
        per_replica = context.get_per_replica_batch_size(batch_size)
        keys = [k for k in TARGET_KEYS if k in data]
        arrays = {k: data[k] for k in keys}
        if shuffle_seed is not None and len(versions) > 1:
            rng = np.random.default_rng(shuffle_seed(calls["epoch"]))
            pick = rng.integers(0, len(versions), size=len(data["images"]))
            arrays = {k: data[k].copy() for k in keys}
            for index, version in enumerate(versions[1:], 1):
                for k in keys:
                    arrays[k][pick == index] = version[k][pick == index]
        ds = tf.data.Dataset.from_tensor_slices(arrays)
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        if shuffle_seed is not None:
            ds = ds.shuffle(len(data["images"]), seed=shuffle_seed(calls["epoch"]))
            calls["epoch"] += 1
        ds = ds.batch(per_replica, drop_remainder=shuffle_seed is not None)
        if calls["skip"]:
            ds, calls["skip"] = ds.skip(calls["skip"]), 0
        return ds.prefetch(2)

    return make


class AIRSystem(TrainSystem):
    """The AIR 3D inference network trained on synthetic scenes (``config``: ``models.air.config``).

    ``snapshot_images``: validation images whose predictions are kept after every
    evaluation (``snapshots()``); ``history()``, ``best_epoch`` and the restored
    best weights (``on_train_end``) are what ``train_air.py`` reports.
    """

    name = "air3d"

    def __init__(self, config, steps_per_epoch, snapshot_images=None):
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = steps_per_epoch * config["n_epochs"]
        self.weights = set_loss.term_weights(config)
        self.snapshot_images = snapshot_images

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
        self.term_names = self.model.term_names()
        sync = dict(synchronization=tf.VariableSynchronization.ON_READ,
                    aggregation=tf.VariableAggregation.SUM, trainable=False)
        self.term_sums = {name: tf.Variable(0.0, name=f"sum_{name}", **sync)
                          for name in self.term_names}
        self.examples_seen = tf.Variable(0.0, name="examples_seen", **sync)
        self._build_progress()

    def _build_progress(self):
        """The variables that let a resumed run carry on: the best weights so far, the
        history (per evaluation: step, training terms, validation loss and terms), the
        snapshots and the count of evaluations."""
        from models.checkpoints import checkpoint_objects

        keep = dict(trainable=False)
        self.best_weights = {key: tf.Variable(v.numpy(), name=f"best_{i}", **keep)
                             for i, (key, v) in
                             enumerate(checkpoint_objects({"model": self.model})["model"].items())}
        rows, n = self.config["n_epochs"], len(self.term_names)
        self.progress = {
            "evaluations": tf.Variable(0, dtype=tf.int64, **keep),
            "best_loss": tf.Variable(np.inf, dtype=tf.float64, **keep),
            "best_epoch": tf.Variable(0, dtype=tf.int64, **keep),
            # per evaluation: step, n training terms, validation loss, n validation terms
            "history": tf.Variable(np.zeros((rows, 2 + 2 * n)), dtype=tf.float64, **keep),
            "term_sums": self.term_sums, "examples_seen": self.examples_seen,
        }
        if self.snapshot_images is not None:
            k, m = self.config["max_primitives"], len(self.snapshot_images)
            shapes = {"presence_logit": [m, k], "type_logits": [m, k, 3], "position": [m, k, 3],
                      "rotation": [m, k, 3, 3]}
            if self.config["camera_range"] is not None:
                shapes["camera"] = [m, 2]                 # the camera read (degrees)
            self.progress["snapshots"] = {
                name: tf.Variable(np.zeros([rows] + shape), dtype=tf.float64, **keep)
                for name, shape in shapes.items()}

    def checkpoint_items(self):
        return {"model": self.best_weights, "training_model": self.model,
                "optimizer": self.optimizer, "progress": self.progress}

    def model_config(self):
        from models.air.config import model_config
        return model_config(self.config)

    def run_config(self):
        # the camera is the model's, also where model_config leaves the default out
        from models.air.config import CAMERA_RANGE_KEYS

        return {k: v for k, v in self.config.items()
                if k not in self.model_config() and k != "camera" and k not in CAMERA_RANGE_KEYS}

    def train_step(self, batch, step, phase):
        cfg = self.config
        global_batch = cfg["batch_size"]
        seed = tf.stack([tf.cast(step, tf.int32), tf.constant(cfg["seed"], tf.int32)])
        if cfg["mirror"]:
            flip = tf.random.stateless_uniform([tf.shape(batch["images"])[0]], seed) < 0.5
            batch = mirror_batch(batch, flip)
        with tf.GradientTape() as tape:
            per_example, terms = set_loss.set_loss(self.model, batch, cfg, seed + 1)
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
        per_example, terms = set_loss.set_loss(self.model, batch, self.config)
        global_batch = self.config["batch_size"]
        out = {"loss": tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)}
        out.update({k: tf.nn.compute_average_loss(v, global_batch_size=global_batch)
                    for k, v in terms.items()})
        return out

    def on_evaluation(self, step, name, result):
        row = int(self.progress["evaluations"].numpy())
        epoch = row + 1
        seen = float(self.examples_seen.numpy())
        train = [float(self.term_sums[k].numpy()) / max(seen, 1.0) for k in self.term_names]
        for v in list(self.term_sums.values()) + [self.examples_seen]:
            v.assign(0.0)
        val = [result["loss"]] + [result[k] for k in self.term_names]
        if row < self.progress["history"].shape[0]:
            self.progress["history"][row].assign([step] + train + val)
            self.progress["evaluations"].assign(epoch)
        if result["loss"] < float(self.progress["best_loss"].numpy()):
            self.progress["best_loss"].assign(result["loss"])
            self.progress["best_epoch"].assign(epoch)
            for best, weight in zip(self.best_weights.values(), self.model.weights):
                best.assign(weight)
        if self.snapshot_images is not None and row < self.progress["history"].shape[0]:
            # (the camera as read: the fit's scan of the range would cost seconds an epoch)
            slots = predict_slots(self.model, self.snapshot_images,
                                  dict(self.config, camera_rounds=0))
            for key, variable in self.progress["snapshots"].items():
                variable[row].assign(np.asarray(slots[key], np.float64))

    def on_train_end(self, step):
        if self.best_epoch:
            for variable, best in zip(self.model.weights, self.best_weights.values()):
                variable.assign(best)

    # -- what the run reports -----------------------------------------------------------
    @property
    def evaluations(self):
        return int(self.progress["evaluations"].numpy())

    @property
    def best_epoch(self):
        return int(self.progress["best_epoch"].numpy())

    def history(self):
        """Per evaluation: ``epoch``, ``step``, ``train`` (mean training terms since the
        previous evaluation and their weighted ``loss``), ``val`` (validation loss and terms)."""
        n = len(self.term_names)
        out = []
        for row in self.progress["history"].numpy()[:self.evaluations]:
            train = dict(zip(self.term_names, row[1:1 + n].tolist()))
            train["loss"] = sum(set_loss.term_weight(k, self.weights) * v
                                for k, v in train.items())
            val = dict(zip(["loss"] + self.term_names, row[1 + n:].tolist()))
            out.append({"epoch": len(out) + 1, "step": int(row[0]), "train": train, "val": val})
        return out

    def snapshots(self):
        """``{"epochs": [E], key: [E, scenes, K, ...]}`` of the predictions kept per evaluation."""
        if self.snapshot_images is None:
            return {}
        count = self.evaluations
        out = {key: v.numpy()[:count].astype(np.float32)
               for key, v in self.progress["snapshots"].items()}
        out["epochs"] = np.arange(1, count + 1)
        return out
