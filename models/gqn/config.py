"""GQN hyper-parameters as plain data.

Facts kept from tf-gqn (``gqn/gqn_params.py``, Dec 2018): the key names of
``GQN_DEFAULT_PARAM_DICT`` and their defaults exactly as the source writes
them, including the learning rates ``5 * 10e-5`` (= 5e-4) and ``5 * 10e-6``
(= 5e-5), and the derived channel counts 327 (pose + representation + z) and
263 (pose + representation). ``GQNConfig`` is a namedtuple, so
``cfg._asdict()`` gives a JSON-able dict.

Differences from the original: ``create_gqn_config`` rejects unknown keys
with a ``ValueError`` naming them (the original silently ignored them), and
checks ``ENC_TYPE``. One key is added, off by default:
``ORIGINAL_PRIOR_TIMING`` (tf-gqn's KL compares the posterior of DRAW step l
with the prior of step l + 1; see ``models/draw/conv_draw.py``).

``model_config(cfg)`` is the part that defines the model and its loss (what
a checkpoint must match); the learning-rate schedule and the number of
context views are run settings.
"""
import collections

GQN_DEFAULT_PARAM_DICT = {
    # constants
    "IMG_HEIGHT": 64,
    "IMG_WIDTH": 64,
    "IMG_CHANNELS": 3,
    "POSE_CHANNELS": 7,
    # input parameters
    "CONTEXT_SIZE": 5,
    # scene representation
    "ENC_TYPE": "pool",  # pool | tower
    "ENC_HEIGHT": 16,
    "ENC_WIDTH": 16,
    "ENC_CHANNELS": 256,
    # generator LSTM
    "LSTM_OUTPUT_CHANNELS": 256,
    "LSTM_CANVAS_CHANNELS": 256,
    "LSTM_KERNEL_SIZE": 5,
    "Z_CHANNELS": 64,
    "GENERATOR_INPUT_CHANNELS": 327,  # pose + representation + z
    "INFERENCE_INPUT_CHANNELS": 263,  # pose + representation
    "SEQ_LENGTH": 8,
    # eta functions
    "ETA_INTERNAL_KERNEL_SIZE": 5,
    "ETA_EXTERNAL_KERNEL_SIZE": 1,
    # annealing of the image sigma and of the ADAM learning rate
    "ANNEAL_SIGMA_TAU": 200000,
    "GENERATOR_SIGMA_ALPHA": 2.0,
    "GENERATOR_SIGMA_BETA": 0.7,
    "ANNEAL_LR_TAU": 1600000,
    "ADAM_LR_ALPHA": 5 * 10e-5,
    "ADAM_LR_BETA": 5 * 10e-6,
    # tf-gqn's off-by-one prior in the KL (added; the original's behaviour when True)
    "ORIGINAL_PRIOR_TIMING": False,
}

RUN_KEYS = ("CONTEXT_SIZE", "ANNEAL_LR_TAU", "ADAM_LR_ALPHA", "ADAM_LR_BETA")

ENC_TYPES = ("pool", "tower")

GQNConfig = collections.namedtuple("GQNConfig", list(GQN_DEFAULT_PARAM_DICT))
GQN_DEFAULT_CONFIG = GQNConfig(**GQN_DEFAULT_PARAM_DICT)


def create_gqn_config(custom_params=None):
    """Return a ``GQNConfig``: the defaults overridden by ``custom_params``.

    Raises ``ValueError`` for a key that is not a GQN parameter, an unknown
    ``ENC_TYPE``, a learning rate or its decay time that is not positive, or
    an image size that is not four times the encoding size
    (the DRAW canvas is upsampled by a 4x4 / stride-4 transposed convolution).
    """
    custom_params = dict(custom_params or {})
    unknown = sorted(set(custom_params) - set(GQN_DEFAULT_PARAM_DICT))
    if unknown:
        raise ValueError(
            f"unknown GQN config key(s) {unknown}; expected keys of "
            f"GQN_DEFAULT_PARAM_DICT: {sorted(GQN_DEFAULT_PARAM_DICT)}")
    params = dict(GQN_DEFAULT_PARAM_DICT)
    params.update(custom_params)
    if params["ENC_TYPE"] not in ENC_TYPES:
        raise ValueError(
            f"ENC_TYPE={params['ENC_TYPE']!r}; expected one of {ENC_TYPES}")
    for key in ("ADAM_LR_ALPHA", "ADAM_LR_BETA", "ANNEAL_LR_TAU"):
        if not params[key] > 0:  # a rate <= 0 would be clamped or train backwards
            raise ValueError(f"{key} must be > 0, got {params[key]}")
    for key in ("IMG_HEIGHT", "IMG_WIDTH"):
        enc_key = key.replace("IMG", "ENC")
        if params[key] != 4 * params[enc_key]:
            raise ValueError(
                f"{key}={params[key]} must be 4 * {enc_key} "
                f"(= {4 * params[enc_key]})")
    return GQNConfig(**params)


def model_config(cfg):
    """The keys of ``cfg`` that define the model and its loss (not ``RUN_KEYS``)."""
    return {k: v for k, v in cfg._asdict().items() if k not in RUN_KEYS}
