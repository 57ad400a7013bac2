"""FCR-alphaGAN configuration: the original ``easydict`` keys and defaults as plain data.

Kept from the original ``config.py``: every key and default value (``CONST.N_VOX``
[80, 48, 80], ``CONST.BATCH_SIZE`` 20, ``SAVER_MAX`` 100, ``CHECK_FREQ`` 100,
``RECORD_VOX_NUM`` 10, ``SWITCHING_ITE`` 75001, ``NET.*``, ``DIR.*``, ``TRAIN.*``,
learning rates, ``LEARNING_RATE_V`` [0.0001, 1000, 0.0001] = [rate before, switch
iteration, rate after], Adam beta1 0.5, ``LAMDA_RECONS`` 1, ``LAMDA_GAMMA`` 0.97) and the
``cfg_from_file`` / ``cfg_from_list`` semantics (dotted keys, values read as Python
literals, a value must keep the type of the default; ``--set`` goes through the
project's one parser, ``data_provider/overrides.py``).

Differences: there is no mutable global; ``default_config()`` returns a fresh copy and
the two merge functions take the config to change. An ``int`` is accepted for a
``float`` key (and stored as float). Two keys are added, both off by default:
``NET.BN_MOVING_AVERAGES`` (batch normalisation uses moving averages at inference
instead of the original's batch statistics) and ``TRAIN.LEGACY_SWAPPED_GAN_LOSS``
(reproduce the original's swapped ``labels``/``logits`` in the GAN losses).

Saved with a run: ``model_config(cfg)`` (``MODEL_KEYS``: what defines the networks
and their losses, compared when training resumes) and ``run_config(cfg)`` (every
other key: paths, epochs, learning rates, intervals); ``from_saved`` rebuilds a
config from them.
"""
import copy
import math

from easydict import EasyDict

from data_provider import overrides
from data_provider.cli import UsageError


class ConfigError(UsageError):
    """A configuration key or value is unknown or has the wrong type."""


def default_config():
    """A fresh ``EasyDict`` holding every original key with its original default."""
    c = EasyDict()
    c.SUB_CONFIG_FILE = []
    c.CONST = EasyDict()
    c.CONST.N_VOX = [80, 48, 80]
    c.CONST.BATCH_SIZE = 20
    c.SAVER_MAX = 100
    c.CHECK_FREQ = 100
    c.RECORD_VOX_NUM = 10
    c.SWITCHING_ITE = 75001

    c.NET = EasyDict()
    c.NET.DIM_Z = 16
    c.NET.DIM = [512, 256, 128, 64, 12]
    c.NET.START_VOX = [5, 3, 5]
    c.NET.KERNEL = [[5, 5, 5, 5, 5], [3, 3, 3, 3, 3], [5, 5, 5, 5, 5]]
    c.NET.STRIDE = [1, 2, 2, 2, 1]
    c.NET.REFINE_CH = 32
    c.NET.REFINE_KERNEL = 3
    c.NET.BN_MOVING_AVERAGES = False

    c.DIR = EasyDict()
    c.DIR.SCENE_ID_PATH = "./Scenevox"
    c.DIR.VOXEL_PATH = "./Scenevox/%s/%s"
    c.DIR.CHECK_POINT_PATH = "./Checkpt"
    c.DIR.CHECK_PT_PATH = "./Checkpt/checkpoint"
    c.DIR.TRAIN_OBJ_PATH = "./train_vox"
    c.DIR.EVAL_PATH = "./eval"
    c.DIR.LOG_PATH = "./log"

    c.TRAIN = EasyDict()
    c.TRAIN.DATASET_PORTION = [0, 0.95]
    c.TRAIN.NUM_EPOCH = 15
    c.TRAIN.ADAM_BETA_G = 0.5
    c.TRAIN.ADAM_BETA_D = 0.5
    c.TRAIN.LEGACY_SWAPPED_GAN_LOSS = False

    c.LEARNING_RATE_G = 0.0001
    c.LEARNING_RATE_D = 0.0001
    c.LEARNING_RATE_V = [0.0001, 1000, 0.0001]
    c.LAMDA_RECONS = 1
    c.LAMDA_GAMMA = 0.97
    return c


cfg = default_config()  # a read-only convenience copy; never mutated by this package


_REAL_VALUED = {"LAMDA_RECONS"}  # integer default in the original, but a real-valued weight


def _types():
    """The defaults that type ``--set`` values (``data_provider/overrides.py``), flat."""
    flat = overrides.flatten(to_plain(default_config()))
    for key in _REAL_VALUED:
        flat[key] = float(flat[key])
    return flat


def _coerce(key, value, default, source):
    """Return ``value`` converted to the type of ``default`` or raise ConfigError."""
    if isinstance(default, dict):
        raise ConfigError(f"{source}: key {key} is a section; set its sub-keys instead")
    if key in _REAL_VALUED and isinstance(default, int):
        default = float(default)
    try:
        return overrides.coerce(value, default)
    except TypeError:
        raise ConfigError(f"{source}: key {key} expects {overrides.describe(default)} "
                          f"like {default!r}, got {value!r}") from None


def _lookup(cfg, key, source):
    parts = key.split(".")
    node = cfg
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{source}: unknown config key {key} "
                              f"(no section {'.'.join(parts[:i + 1])})")
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        raise ConfigError(f"{source}: unknown config key {key}")
    return node, parts[-1]


def cfg_from_list(cfg, cfg_list, source="--set"):
    """Set keys in place from ``[KEY, VALUE, KEY, VALUE, ...]``, read and type-checked by
    the project's one ``--set`` parser (``data_provider.overrides.parse``).

    Raises ConfigError naming the key for an odd list, an unknown key (with the
    closest known ones) or a value whose type differs from the default's; nothing
    is applied then. Returns ``cfg``.
    """
    cfg_list = list(cfg_list)
    if len(cfg_list) % 2:
        raise ConfigError(f"{source}: expected KEY VALUE pairs, got an odd number of items "
                          f"(last key {cfg_list[-1]!r} has no value)")
    try:
        values = overrides.parse(zip(cfg_list[0::2], cfg_list[1::2]), _types(),
                                 what="FCR-alphaGAN config", flag=source)
    except overrides.OverrideError as e:
        raise ConfigError(str(e)) from None
    for key, value in values.items():
        node, leaf = _lookup(cfg, key, source)
        node[leaf] = value
    return cfg


def _merge(src, dst, prefix, source):
    for key, value in src.items():
        full = f"{prefix}{key}"
        if key not in dst:
            raise ConfigError(f"{source}: unknown config key {full}")
        if isinstance(dst[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: key {full} is a section, got {value!r}")
            _merge(value, dst[key], full + ".", source)
        else:
            dst[key] = _coerce(full, value, dst[key], source)


def cfg_from_file(cfg, path):
    """Merge a YAML file of (nested) keys into ``cfg`` in place, type-checked; returns ``cfg``."""
    import yaml
    try:
        with open(path, "r") as f:
            data = yaml.safe_load(f) or {}
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {path} must hold a mapping of keys, got {type(data).__name__}")
    staged = copy.deepcopy(cfg)
    _merge(data, staged, "", str(path))
    cfg.update(staged)
    return cfg


def check_config(cfg):
    """Raise ConfigError unless the network keys fit together (shapes of the original model)."""
    n_vox, start, dim = list(cfg.CONST.N_VOX), list(cfg.NET.START_VOX), list(cfg.NET.DIM)
    if len(n_vox) != 3 or len(start) != 3:
        raise ConfigError("CONST.N_VOX and NET.START_VOX must each hold 3 integers")
    if len(dim) != 5:
        raise ConfigError(f"NET.DIM must hold 5 channel counts, got {dim}")
    if [s * 16 for s in start] != n_vox:
        raise ConfigError(f"CONST.N_VOX {n_vox} must be 16 x NET.START_VOX {start} "
                          "(four stride-2 layers)")
    kernel = cfg.NET.KERNEL
    if len(kernel) != 3 or any(len(row) != 5 for row in kernel):
        raise ConfigError(f"NET.KERNEL must be 3 rows of 5 kernel sizes, got {kernel}")
    if cfg.CONST.BATCH_SIZE < 1:
        raise ConfigError(f"CONST.BATCH_SIZE must be positive, got {cfg.CONST.BATCH_SIZE}")
    if cfg.CHECK_FREQ < 1:
        raise ConfigError(f"CHECK_FREQ must be positive, got {cfg.CHECK_FREQ}")
    rate_v = list(cfg.LEARNING_RATE_V)
    if len(rate_v) != 3:
        raise ConfigError(f"LEARNING_RATE_V must be [rate before, switch iteration, rate after], "
                          f"got {rate_v}")
    for key, rate in (("LEARNING_RATE_G", cfg.LEARNING_RATE_G),
                      ("LEARNING_RATE_D", cfg.LEARNING_RATE_D),
                      ("LEARNING_RATE_V[0]", rate_v[0]), ("LEARNING_RATE_V[2]", rate_v[2])):
        if not (math.isfinite(rate) and rate > 0):
            raise ConfigError(f"{key} must be a positive number, got {rate}")
    return cfg


def kernel_size(cfg, layer):
    """Kernel of layer 1..5: column ``layer - 1`` of ``NET.KERNEL`` (the original's kernel1..5)."""
    return tuple(int(row[layer - 1]) for row in cfg.NET.KERNEL)


MODEL_KEYS = ("CONST.N_VOX", "NET", "LAMDA_RECONS", "LAMDA_GAMMA",
              "TRAIN.LEGACY_SWAPPED_GAN_LOSS")


def to_plain(node):
    """The config (or a part of it) as JSON-able nested dicts and lists."""
    if isinstance(node, dict):
        return {k: to_plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [to_plain(v) for v in node]
    return node


def _split(cfg):
    """(model part, run part) of ``cfg`` as nested plain dicts."""
    plain = to_plain(cfg)
    model, run = {}, {}

    def walk(node, path, model_node, run_node):
        for key, value in node.items():
            name = f"{path}{key}"
            if name in MODEL_KEYS:
                model_node[key] = value
            elif isinstance(value, dict) and any(k.startswith(name + ".") for k in MODEL_KEYS):
                walk(value, name + ".", model_node.setdefault(key, {}),
                     run_node.setdefault(key, {}))
            else:
                run_node[key] = value

    walk(plain, "", model, run)
    return model, run


def model_config(cfg):
    """The part of ``cfg`` that defines the networks and their losses (``MODEL_KEYS``)."""
    return _split(cfg)[0]


def run_config(cfg):
    """Every key of ``cfg`` outside ``MODEL_KEYS``."""
    return _split(cfg)[1]


def _flat(data, prefix=""):
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def from_saved(model, run=None, source="config.json"):
    """A config from saved ``model`` (and ``run``) parts, type-checked like ``--set``."""
    cfg = default_config()
    for part in (run or {}, model):
        for key, value in _flat(part):
            cfg_from_list(cfg, [key, value], source=source)
    return check_config(cfg)
