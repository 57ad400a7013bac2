"""The contract between the training loop and a system (GQN, FCR-alphaGAN, GEN, AIR).

A system is a ``TrainSystem`` subclass: it builds its networks and
optimizers, names what a checkpoint holds, and runs one training step on one
replica's batch. Everything else (distribution, the step functions,
checkpoints, summaries, evaluation passes, stopping) is the loop's
(``training/loop.py``).

``step`` means the same everywhere: the number of training steps completed
at that moment. In ``train_step`` it is the index of the step being run (the
number of updates before it), so schedules evaluated there give the values
of this step.

Loss convention: a step returns losses already averaged over the GLOBAL batch,
per-example terms through ``tf.nn.compute_average_loss(per_example,
global_batch_size=...)``; the loop sums them over replicas, which gives the
batch mean on any number of replicas. Values that are the same on every
replica (the learning rate and sigma of this step) are returned apart and
taken as they are.

Steps are traced without AutoGraph (``tf.function(autograph=False)``): write them
with TensorFlow ops, Python ``if`` and ``for`` only on Python values (a phase,
a config key, a static shape), ``tf.cond``/``tf.where`` on tensors. A Python
``if`` on a tensor fails at the first step instead of being converted. Skipping
the conversion shortens every run's first step (``benchmarks/first_step.py``).
"""
import abc


def present_gradients(grads, variables):
    """(gradient, variable) pairs without the variables the loss does not reach.

    For ``optimizer.apply_gradients``: a variable without a gradient is left
    unchanged, as Adam leaves one whose gradients are zero.
    """
    return [(g, v) for g, v in zip(grads, variables) if g is not None]


class TrainSystem(abc.ABC):
    """One system's training: implement the three abstract methods; the hooks are optional.

    ``name`` (a class attribute, e.g. ``"gqn"``) is written to ``config.json``:
    a model directory of one system is never resumed by another.
    """

    name = None

    @abc.abstractmethod
    def build(self):
        """Create models, optimizers and every variable (runs inside ``strategy.scope()``).

        Call the models once and ``optimizer.build(variables)`` so that a
        checkpoint restores the whole state.
        """

    @abc.abstractmethod
    def checkpoint_items(self):
        """What a checkpoint holds: ``{"model": keras_model, "optimizer": opt, ...}``."""

    @abc.abstractmethod
    def train_step(self, batch, step, phase):
        """One training step on one replica's batch (inside ``tf.function``).

        Returns ``losses`` or ``(losses, values)``: dicts of scalars, see the
        module docstring for their convention.
        """

    def model_config(self):
        """What defines the model and its loss, as JSON-able data.

        Written to ``config.json`` and compared key by key when training
        resumes; paths, epochs, step limits and intervals never belong here.
        """
        return {}

    def run_config(self):
        """Run settings recorded beside the model config (never compared)."""
        return {}

    def phase(self, step):
        """Name of the step function for step ``step`` (one ``tf.function`` per phase)."""
        return "train"

    def eval_step(self, batch):
        """Losses of one replica's evaluation batch, averaged as ``train_step``'s."""
        raise TypeError(f"{type(self).__name__} defines no eval_step; train it without "
                        "evaluation datasets")

    def on_log(self, batch, step):
        """At every log interval, with the train summary writer as default (extra summaries)."""

    def on_evaluation(self, step, name, result):
        """After each evaluation of the eval set ``name`` (its dict of means), with
        the eval summary writer as default."""

    def on_checkpoint(self, step, path):
        """On the chief, after each checkpoint saved at ``path``."""

    def on_train_end(self, step):
        """Once, when training stops for any reason but an error."""
