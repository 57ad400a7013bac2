"""How to build a GQN from its config: training and ``models/restore.py`` both come here."""
import tensorflow as tf

from models.gqn.config import create_gqn_config
from models.gqn.model import GQNModel

MIXED_PRECISION = ("none", "bf16")


def dummy_batch(cfg, batch=1):
    """A zero (query, target) batch of the config's shapes (builds the variables)."""
    from data_provider.gqn_tfr_provider import Context, Query

    frames = tf.zeros([batch, cfg.CONTEXT_SIZE, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS])
    cameras = tf.zeros([batch, cfg.CONTEXT_SIZE, cfg.POSE_CHANNELS])
    query = Query(context=Context(frames=frames, cameras=cameras),
                  query_camera=tf.zeros([batch, cfg.POSE_CHANNELS]))
    return query, tf.zeros([batch, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS])


def build_model(cfg, optimized=True, mixed_precision="none"):
    """A ``GQNModel`` of ``cfg`` with its variables created.

    ``mixed_precision="bf16"``: bfloat16 compute, float32 variables and outputs.
    """
    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be 'none' or 'bf16', got {mixed_precision!r}")
    dtype = "mixed_bfloat16" if mixed_precision == "bf16" else None
    model = GQNModel(cfg, optimized=optimized, dtype=dtype)
    model(dummy_batch(cfg), training=True)
    return model


def build_networks(cfg, **options):
    """``{"model": GQNModel}``, the networks a GQN checkpoint holds (``build_model`` options)."""
    return {"model": build_model(cfg, **options)}


def config_from_saved(model, run=None):
    """The ``GQNConfig`` of a run's ``config.json`` parts (``ValueError`` if it is not one)."""
    return create_gqn_config(dict(run or {}, **model))
