"""GEN hyper-parameters as plain data.

Defaults are the original's (``Models/scene_render.py``,
``train_scene_rendering.py``, ``Utils/scheduler.py``): L = 8 DRAW steps,
128-channel cores and canvas, r upsampled to 256 channels, 254-channel view
embeddings from a 256-channel tower, 512-unit edge and node MLPs, 256-channel
messages; sigma 2.0 -> 0.7 over 2e5 steps; Adam's learning rate 8e-4 -> 5e-6
over 1.6e6 steps. ``baseline`` selects the GQN composer.

``model_config(cfg)`` is the part that defines the model and its loss (what a
checkpoint must match); the learning-rate schedule is a run setting.
"""
GEN_DEFAULT_CONFIG = {
    "num_steps": 8,
    "baseline": False,
    "hidden_channels": 128,
    "canvas_channels": 128,
    "upsample_channels": 256,
    "embedding_channels": 254,
    "embedder_channels": 256,
    "mlp_units": 512,
    "message_channels": 256,
    "sigma_alpha": 2.0,
    "sigma_beta": 0.7,
    "sigma_tau": 200000,
    "lr_alpha": 8e-4,
    "lr_beta": 5e-6,
    "lr_tau": 1600000,
}
MODEL_KEYS = ("num_steps", "baseline", "hidden_channels", "canvas_channels", "upsample_channels",
              "embedding_channels", "embedder_channels", "mlp_units", "message_channels")
RUN_KEYS = ("lr_alpha", "lr_beta", "lr_tau")


def gen_config(overrides=None):
    """The defaults updated with ``overrides``; ``ValueError`` naming an unknown key or a
    value of the wrong kind."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(GEN_DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"unknown GEN config key(s) {unknown}; expected one of "
                         f"{sorted(GEN_DEFAULT_CONFIG)}")
    cfg = dict(GEN_DEFAULT_CONFIG)
    for key, value in overrides.items():
        default = GEN_DEFAULT_CONFIG[key]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        if not ok:
            kind = {bool: "True or False", int: "a positive integer"}.get(type(default),
                                                                         "a positive number")
            raise ValueError(f"GEN config {key} must be {kind}, got {value!r}")
        cfg[key] = float(value) if isinstance(default, float) else value
    return cfg


def model_kwargs(cfg):
    """Keyword arguments of ``GENModel`` from a config."""
    return {key: cfg[key] for key in MODEL_KEYS}


def model_config(cfg):
    """What defines the model and its loss (compared with a checkpoint's on resume)."""
    return {key: value for key, value in cfg.items() if key not in RUN_KEYS}


def sigma_schedule(cfg):
    return cfg["sigma_alpha"], cfg["sigma_beta"], cfg["sigma_tau"]


def learning_rate_schedule(cfg):
    return cfg["lr_alpha"], cfg["lr_beta"], cfg["lr_tau"]
