"""Distribution: which strategy, who is the chief, and the distributed step functions.

As TensorFlow's "custom training with tf.distribute.Strategy" tutorial: one
``tf.function`` per training phase runs the system's step on every replica
with ``strategy.run``; losses are SUM-reduced (each replica returns its part
of the global-batch average), values that are the same on every replica are
MEAN-reduced. Beside them every step all-reduces two flags, so that a stop
request (a signal, the end of the time budget) seen by any worker stops all
workers at the same step.
"""
import os

import tensorflow as tf

STOP_SIGNAL, STOP_BUDGET = 0, 1  # positions in the stop-flag vector


def make_strategy(devices=None):
    """The distribution strategy for this process.

    ``TF_CONFIG`` set -> ``MultiWorkerMirroredStrategy``; ``devices`` given or
    more than one GPU visible -> ``MirroredStrategy(devices)``; otherwise the
    default strategy. Call it before any other TensorFlow work in the process
    (multi-worker set-up must happen first).
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices is not None:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    if task_type == "worker":
        spec = resolver.cluster_spec().as_dict()
        return "chief" not in spec and (task_id or 0) == 0
    return False


def _batch_size(batch):
    return tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]


def _split(out):
    """(losses, values) from a step's ``losses`` or ``(losses, values)``."""
    if isinstance(out, tuple):
        losses, values = out
        return dict(losses), dict(values)
    return dict(out), {}


class StepRunner:
    """The compiled, distributed step functions of one system."""

    def __init__(self, system, strategy):
        self.system, self.strategy = system, strategy
        self._train_fns = {}
        self._eval_fn = None

    def _reduce(self, losses, values, examples, flags=None):
        sum_, mean = tf.distribute.ReduceOp.SUM, tf.distribute.ReduceOp.MEAN
        reduce = self.strategy.reduce
        out = ({k: reduce(sum_, v, axis=None) for k, v in losses.items()},
               {k: reduce(mean, v, axis=None) for k, v in values.items()},
               reduce(sum_, examples, axis=None))
        if flags is not None:
            out += (reduce(sum_, flags, axis=None),)
        return out

    def train(self, phase, batch, step, flags):
        """One distributed step. ``flags`` (int64 [2]: signal, budget) are summed over
        all replicas. Returns (losses, values, examples, flags) as tensors."""
        if phase not in self._train_fns:
            def replica_fn(b, s, f):
                losses, values = _split(self.system.train_step(b, s, phase))
                return losses, values, _batch_size(b), tf.identity(f)

            @tf.function(autograph=False)
            def step_fn(b, s, f):
                return self._reduce(*self.strategy.run(replica_fn, args=(b, s, f)))

            self._train_fns[phase] = step_fn
        return self._train_fns[phase](batch, step, flags)

    def evaluate(self, batch):
        """One distributed evaluation step: (losses, examples)."""
        if self._eval_fn is None:
            def replica_fn(b):
                losses, _ = _split(self.system.eval_step(b))
                return losses, {}, _batch_size(b)

            @tf.function(autograph=False)
            def eval_fn(b):
                losses, _, examples = self._reduce(*self.strategy.run(replica_fn, args=(b,)))
                return losses, examples

            self._eval_fn = eval_fn
        return self._eval_fn(batch)
