"""AIR 3D configuration as plain data, in four parts.

* ``DATA``: the scenes (the reference's flags ``seed``, ``image_size``,
  ``max_primitives``, ``n_train``, ``n_test`` are keys here, ``camera``,
  ``orthographic`` or ``perspective``, and ``camera_range``, None for the one
  isometric camera or ``[az_min, az_max, el_min, el_max]`` degrees for cameras
  that vary: ``models.air.scenes``);
* ``NETWORK`` and ``LOSS``: what defines the model (``model_config``: compared
  when training resumes and written beside the weights), with the scenes'
  ``image_size``, ``supersample``, ``max_primitives``, ``camera`` (the
  network turns image points into positions through it) and ``camera_range``
  (the network then also reads the camera: ``camera_hidden``, ``w_camera``);
* ``TRAINING``: the optimiser, the schedule and what the network is shown
  (``n_epochs``, ``weight_decay``, mirroring, turns, canvases);
* the search's keys (``models.air.search.config.SEARCH_DEFAULTS``): how
  candidates become the answer at inference, never part of the model.

``DEFAULT_CONFIG`` is all of them, one flat dict (``--set KEY VALUE`` takes
any of its keys, typed by its defaults: ``data_provider.overrides``).
``make_config(overrides)`` checks ranges and relations; ``ConfigError`` is a
usage error (exit 2 in every command). ``config_from_saved`` rebuilds a
config from a run's ``config.json`` parts (``models.restore``).
"""
import copy

from data_provider.cli import UsageError
from models.air import heads
from models.air.scenes import CAMERAS, check_camera_range
from models.air.search.config import SEARCH_DEFAULTS, check_search

DATA = {
    "seed": 0,
    "image_size": 64,
    "max_primitives": 3,
    "n_train": 3000,
    "n_test": 500,
    "n_val": 500,             # validation scenes (own random stream) for the best epoch
    "supersample": 2,         # rays per pixel side (anti-aliasing)
    "camera": "orthographic", # orthographic | perspective (models.air.scenes); part of the model
    "camera_range": None,     # None: the isometric camera; [az_min, az_max, el_min, el_max]
                              # (degrees): each scene's camera drawn in it; part of the model
}
NETWORK = {
    "head": "glimpse",        # glimpse (grid + glimpse reader) | grid | slots (the reference's);
                              # models.air.heads
    "glimpse_size": 24,       # glimpse window side in pixels
    "glimpse_channels": [16, 32, 32, 64],   # glimpse reader convolutions (strides 1, 2, 1, 2)
    "glimpse_hidden": 128,
    "channels": [16, 32, 64, 64],
    "kernels": [4, 3, 3, 3],
    "strides": [2, 2, 2, 1],
    "hidden": 64,
    "mixed_precision": None,  # bfloat16 compute (float32 weights and outputs): None where the
                              # hardware has bfloat16 units (models.precision), True/False: forced
    "camera_hidden": 128,     # camera range: hidden units of the camera head (air.camera_head)
}
LOSS = {
    "matching": "hungarian",  # hungarian | sorted (slot head only: the reference's x order)
    "w_prior": 1.0,           # grid head: matching cost per cell of distance to the centre
    "ignore_radius": 1.0,     # grid head: cells this near a primitive are not taught "absent"
    "w_presence": 1.0,
    "w_type": 1.0,
    "w_position": 1.0,
    "w_rotation": 3.0,
    "w_camera": 1.0,          # camera range: the camera term (models.air.losses.camera_cost)
}
TRAINING = {
    "n_epochs": 80,
    "batch_size": 64,
    "learning_rate": 1e-3,    # peak; cosine decay to 0 over the run after a linear warm-up
    "warmup_epochs": 2,
    "weight_decay": 1e-3,     # AdamW: w -= learning_rate * weight_decay * w per step, kernels only
    "mirror": True,           # flip images left-right (the x <-> y mirror of the isometric view)
    "turns": 3,               # training scenes rendered turned by 0, 120, 240 degrees about the
                              # view axis (1: as sampled); each epoch shows one turn of each;
                              # under a camera range: seen by turns - 1 more cameras instead
    "glimpse_jitter": 1.0,    # glimpse head: training windows' centre jitter (pixels, std)
    "canvas_rate": 0.5,       # repeat: share of training scenes shown a canvas of some of
                              # their primitives (taught to find the others)
    "canvas_draws": 2,        # repeat: canvases drawn per training scene and turn (each epoch
                              # shows one)
    "canvas_jitter": 0.5,     # repeat: canvas primitives shifted this much (pixels, per axis)
    "deterministic": False,   # TensorFlow's op determinism (slower; runs repeat without it on CPU)
}
DEFAULT_CONFIG = {**DATA, **NETWORK, **LOSS, **SEARCH_DEFAULTS, **TRAINING}

# What defines the network and its loss; ``input_channels`` is derived (``input_channels``).
MODEL_KEYS = ("image_size", "supersample", "max_primitives", "camera", "camera_range", *NETWORK,
              *LOSS)
# Keys of the cameras that vary, left out of the model config of the one camera.
CAMERA_RANGE_KEYS = ("camera_range", "camera_hidden", "w_camera")
MATCHINGS = ("hungarian", "sorted")
HEADS = tuple(heads.HEADS)


class ConfigError(UsageError):
    """An unknown key or a bad value in an AIR configuration."""


def make_config(overrides=None):
    """``DEFAULT_CONFIG`` with ``overrides``; raises ``ConfigError`` naming a bad key or value."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in (overrides or {}).items():
        if key not in config and key != "input_channels":   # a restored network's (derived)
            raise ConfigError(f"unknown AIR config key {key!r}; known: {', '.join(config)}")
        config[key] = value
    for key in ("image_size", "max_primitives", "n_train", "n_test", "n_val", "supersample",
                "hidden", "n_epochs", "batch_size", "glimpse_size", "glimpse_hidden", "turns",
                "canvas_draws", "camera_hidden"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 1:
            raise ConfigError(f"{key} must be a positive integer, got {config[key]!r}")
    if config["image_size"] < 8:
        raise ConfigError(f"image_size must be at least 8, got {config['image_size']}")
    for key in ("learning_rate", "weight_decay", "w_presence", "w_type", "w_position",
                "w_rotation", "w_prior", "warmup_epochs", "glimpse_jitter", "ignore_radius",
                "canvas_jitter", "w_camera"):
        if not isinstance(config[key], (int, float)) or config[key] < 0:
            raise ConfigError(f"{key} must be a non-negative number, got {config[key]!r}")
    for key in ("mirror", "deterministic"):
        if not isinstance(config[key], bool):
            raise ConfigError(f"{key} must be True or False, got {config[key]!r}")
    if config["mixed_precision"] is not None and not isinstance(config["mixed_precision"], bool):
        raise ConfigError("mixed_precision must be True or False, or None (decided by the "
                          f"hardware), got {config['mixed_precision']!r}")
    check_search(config, ConfigError)
    rate = config["canvas_rate"]
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise ConfigError(f"canvas_rate must be a number in [0, 1], got {config['canvas_rate']!r}")
    if config["camera"] not in CAMERAS:
        raise ConfigError(f"camera must be one of {CAMERAS}, got {config['camera']!r}")
    if isinstance(config["camera_range"], tuple):
        config["camera_range"] = list(config["camera_range"])
    try:
        check_camera_range(config["camera_range"])
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if config["turns"] not in (1, 2, 3):
        raise ConfigError(f"turns must be 1, 2 or 3, got {config['turns']!r}")
    if config["matching"] not in MATCHINGS:
        raise ConfigError(f"matching must be one of {MATCHINGS}, got {config['matching']!r}")
    if config["head"] not in HEADS:
        raise ConfigError(f"head must be one of {HEADS}, got {config['head']!r}")
    if config["matching"] not in heads.get(config["head"]).matchings:
        raise ConfigError(f"the {config['head']} head needs matching 'hungarian' (its cells "
                          "have no x order)")
    if len(config["glimpse_channels"]) != 4:
        raise ConfigError("glimpse_channels must be 4 numbers (strides 1, 2, 1, 2)")
    if not len(config["channels"]) == len(config["kernels"]) == len(config["strides"]):
        raise ConfigError("channels, kernels and strides must have the same length")
    if "input_channels" in config and config["input_channels"] not in (1, 2):
        raise ConfigError(f"input_channels must be 1 or 2, got {config['input_channels']!r}")
    return config


def input_channels(config):
    """The network's input channels: 1 (the image), or 2 (the image and the canvas of what is
    explained) for a head that reads a canvas trained with ``repeat``. A restored config
    carries the trained network's (``input_channels``), whatever its search's ``repeat``."""
    if "input_channels" in config:
        return config["input_channels"]
    return 2 if config["repeat"] and heads.get(config["head"]).reads_canvas else 1


def model_config(config):
    """What defines the network and its loss: ``MODEL_KEYS`` and ``input_channels``.

    ``camera`` is left out when it is ``orthographic``, the default, and the keys of the
    cameras that vary (``CAMERA_RANGE_KEYS``) when there is one camera: a saved model
    config without them (every run from before the keys) is a model of the one
    orthographic or isometric camera, and those runs' ``config.json`` and ``weights.npz``
    say what they always said."""
    keys = [k for k in MODEL_KEYS if (k != "camera" or config[k] != "orthographic")
            and (k not in CAMERA_RANGE_KEYS or config["camera_range"] is not None)]
    return dict({k: config[k] for k in keys}, input_channels=input_channels(config))


def config_from_saved(model, run=None):
    """The config of a trained model from the ``model`` and ``run`` parts of its
    ``config.json`` (or the config of a ``weights.npz``); ``ConfigError`` if they do not
    make one. Keys the project no longer knows are left out; the search keys are the
    run's (or the defaults), to be overridden freely."""
    model = dict(model)
    channels = model.pop("input_channels", None)
    known = {k: v for k, v in dict(run or {}, **model).items() if k in DEFAULT_CONFIG}
    if channels is not None:
        known["input_channels"] = channels
    return make_config(known)
