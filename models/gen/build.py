"""How to build a GEN model from its config: training and ``models/restore.py`` both come here."""
from models.gen import config
from models.gen.model import GENModel

MIXED_PRECISION = ("none", "bf16")


def build_model(cfg, optimized=True, mixed_precision="none", winograd=True):
    """A ``GENModel`` of the config ``cfg`` (every variable is created by the constructor).

    ``winograd=False`` keeps the fused path's convolutions direct (about half
    the memory at the original config on CPU, twice the time).
    """
    if mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be 'none' or 'bf16', got {mixed_precision!r}")
    dtype = "mixed_bfloat16" if mixed_precision == "bf16" else None
    return GENModel(optimized=optimized, winograd=winograd, dtype=dtype,
                    **config.model_kwargs(cfg))


def build_networks(cfg, **options):
    """``{"model": GENModel}``, the networks a GEN checkpoint holds (``build_model`` options)."""
    return {"model": build_model(cfg, **options)}


def config_from_saved(model, run=None):
    """The GEN config of a run's ``config.json`` parts (``ValueError`` if it is not one)."""
    run = {k: v for k, v in (run or {}).items() if k in config.RUN_KEYS}
    return config.gen_config(dict(run, **model))
