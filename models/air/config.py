"""AIR 3D configuration as plain data.

``DEFAULT_CONFIG`` holds the model, loss and training settings; the
reference's command-line flags (``seed``, ``image_size``, ``max_primitives``,
``n_epochs``, ``n_train``, ``n_test``, ``weight_decay``) are keys too.
``MODEL_KEYS`` are those that define the network and its loss (compared when
weights are loaded). ``make_config(overrides)`` validates keys and values;
``ConfigError`` is a usage error (exit 2 in every command).
"""
import ast
import copy

from data_provider.cli import UsageError

DEFAULT_CONFIG = {
    # data (the reference's flags)
    "seed": 0,
    "image_size": 64,
    "max_primitives": 3,
    "n_train": 3000,
    "n_test": 500,
    "n_val": 500,             # validation scenes (own random stream) for the best epoch
    "supersample": 2,         # rays per pixel side (anti-aliasing)
    # network
    "head": "glimpse",        # glimpse (grid + glimpse reader) | grid | slots (the reference's)
    "glimpse_size": 24,       # glimpse window side in pixels
    "glimpse_channels": [16, 32, 32, 64],   # glimpse reader convolutions (strides 1, 2, 1, 2)
    "glimpse_hidden": 128,
    "glimpse_jitter": 1.0,    # training windows: standard deviation of the centre, pixels
    "channels": [16, 32, 64, 64],
    "kernels": [4, 3, 3, 3],
    "strides": [2, 2, 2, 1],
    "hidden": 64,
    "mixed_precision": True,  # bfloat16 compute, float32 weights and outputs
    # loss
    "matching": "hungarian",  # hungarian | sorted (slot head only: the reference's x order)
    "w_prior": 1.0,           # grid head: matching cost per cell of distance to the centre
    "ignore_radius": 1.0,     # grid head: cells this near a primitive are not taught "absent"
    "glances": 1,             # glimpse head: readings of a candidate, each window centred on the last
    "merge_radius": 0.5,      # grid head: candidates whose image points are this near (pixels) merge
    "explain": True,          # grid heads: settle the count by re-rendering (models.air.explain)
    "explain_gain": 4.0,      # a primitive counts if it lowers the summed |rendering - image| this much
    "explain_floor": 0.05,    # candidates below this presence probability are not tried
    "explain_pool": 12,       # the most present candidates the search draws its subsets from
    "explain_mirror": True,   # candidates also read from the mirrored image (left-right flip)
    "refine_rounds": 3,       # grid heads: the kept primitives fitted to the image by the
                              # renderer (rounds of halving steps; 0: not fitted), then searched again
    "repeat": 1,              # grid heads (the slot head ignores it): passes after the first,
                              # each shown the rendering of what the search kept (a second input
                              # channel) to find the rest
    "w_presence": 1.0,
    "w_type": 1.0,
    "w_position": 1.0,
    "w_rotation": 3.0,
    # training
    "n_epochs": 80,
    "batch_size": 64,
    "learning_rate": 1e-3,    # peak; cosine decay to 0 over the run after a linear warm-up
    "warmup_epochs": 2,
    "weight_decay": 1e-3,     # AdamW: w -= learning_rate * weight_decay * w per step, kernels only
    "mirror": True,           # flip images left-right (the x <-> y mirror of the isometric view)
    "turns": 3,               # training scenes rendered turned by 0, 120, 240 degrees about the
                              # view axis (1: as sampled); each epoch shows one turn of each
    "canvas_rate": 0.5,       # repeat: share of training scenes shown a canvas of some of
                              # their primitives (taught to find the others)
    "canvas_draws": 2,        # repeat: canvases drawn per training scene and turn (each epoch
                              # shows one)
    "canvas_jitter": 0.5,     # repeat: canvas primitives shifted this much (pixels, per axis)
    "deterministic": False,   # TensorFlow's op determinism (slower; runs repeat without it on CPU)
}

MODEL_KEYS = ("image_size", "supersample", "max_primitives", "head", "glimpse_size",
              "glimpse_channels", "glimpse_hidden",
              "channels", "kernels", "strides", "hidden", "mixed_precision", "matching",
              "w_prior", "ignore_radius", "glances", "merge_radius", "explain",
              "explain_gain", "explain_floor", "explain_pool", "explain_mirror",
              "refine_rounds", "repeat",
              "w_presence", "w_type", "w_position", "w_rotation")
MATCHINGS = ("hungarian", "sorted")
HEADS = ("glimpse", "grid", "slots")


class ConfigError(UsageError):
    """An unknown key or a bad value in an AIR configuration."""


def make_config(overrides=None):
    """``DEFAULT_CONFIG`` with ``overrides``; raises ``ConfigError`` naming a bad key or value."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    for key, value in (overrides or {}).items():
        if key not in config:
            raise ConfigError(f"unknown AIR config key {key!r}; known: {', '.join(config)}")
        config[key] = value
    for key in ("image_size", "max_primitives", "n_train", "n_test", "n_val", "supersample",
                "hidden", "n_epochs", "batch_size", "glimpse_size", "glimpse_hidden", "turns",
                "glances", "explain_pool", "canvas_draws"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 1:
            raise ConfigError(f"{key} must be a positive integer, got {config[key]!r}")
    if config["image_size"] < 8:
        raise ConfigError(f"image_size must be at least 8, got {config['image_size']}")
    for key in ("learning_rate", "weight_decay", "w_presence", "w_type", "w_position",
                "w_rotation", "w_prior", "warmup_epochs", "glimpse_jitter", "ignore_radius",
                "merge_radius", "explain_gain", "explain_floor", "canvas_jitter"):
        if not isinstance(config[key], (int, float)) or config[key] < 0:
            raise ConfigError(f"{key} must be a non-negative number, got {config[key]!r}")
    for key in ("mixed_precision", "explain", "explain_mirror", "mirror", "deterministic"):
        if not isinstance(config[key], bool):
            raise ConfigError(f"{key} must be True or False, got {config[key]!r}")
    for key in ("repeat", "refine_rounds"):
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 0:
            raise ConfigError(f"{key} must be a non-negative integer, got {config[key]!r}")
    rate = config["canvas_rate"]
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1:
        raise ConfigError(f"canvas_rate must be a number in [0, 1], got {config['canvas_rate']!r}")
    if config["turns"] not in (1, 2, 3):
        raise ConfigError(f"turns must be 1, 2 or 3, got {config['turns']!r}")
    if config["matching"] not in MATCHINGS:
        raise ConfigError(f"matching must be one of {MATCHINGS}, got {config['matching']!r}")
    if config["head"] not in HEADS:
        raise ConfigError(f"head must be one of {HEADS}, got {config['head']!r}")
    if config["head"] != "slots" and config["matching"] != "hungarian":
        raise ConfigError(f"the {config['head']} head needs matching 'hungarian' (its cells "
                          "have no x order)")
    if len(config["glimpse_channels"]) != 4:
        raise ConfigError("glimpse_channels must be 4 numbers (strides 1, 2, 1, 2)")
    if not len(config["channels"]) == len(config["kernels"]) == len(config["strides"]):
        raise ConfigError("channels, kernels and strides must have the same length")
    return config


def parse_overrides(pairs):
    """``[(key, text), ...]`` (``--set``) -> dict, values read as Python literals
    (``ast.literal_eval``; text that is not a literal stays a string)."""
    out = {}
    for key, text in pairs:
        try:
            out[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[key] = text
    return out


def model_config(config):
    """The keys of ``config`` that define the network and its loss."""
    return {k: config[k] for k in MODEL_KEYS}
