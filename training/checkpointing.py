"""Writing checkpoints and the model config beside them (the format: ``models/checkpoints.py``).

``check_model_dir`` decides whether a training run may use a directory:
resuming with a different model config is refused, naming every differing
leaf key; ``write_config`` writes ``config.json`` atomically. The ``run``
part of the config is never compared.
"""
import json
import os

from data_provider import cli
from data_provider.overrides import flatten
from models.checkpoints import CONFIG_FILE, MARK, ForeignFileError, latest, read_config


class ConfigMismatchError(cli.UsageError):
    """The directory holds a checkpoint of another model configuration."""


def differences(saved, requested):
    """Lines ``KEY: checkpoint has A, requested B`` for every differing leaf key."""
    saved, requested = flatten(json.loads(json.dumps(saved))), \
        flatten(json.loads(json.dumps(requested)))
    absent = "<absent>"
    return [f"{k}: checkpoint has {saved.get(k, absent)!r}, requested {requested.get(k, absent)!r}"
            for k in sorted(set(saved) | set(requested))
            if saved.get(k, absent) != requested.get(k, absent)]


def check_model_dir(model_dir, system_name, model, flag="--model_dir"):
    """Raise unless training ``system_name`` with ``model`` config may use ``model_dir``.

    Refused: a foreign ``config.json``; checkpoints without our config; a
    config of another system; checkpoints of another model config (every
    differing leaf key is named). Returns the saved config or None.
    """
    saved = read_config(model_dir)
    ckpt = latest(model_dir)
    if saved is None:
        if ckpt is not None:
            raise ForeignFileError(f"{flag} {model_dir} holds checkpoints "
                                   f"({os.path.basename(ckpt)}) "
                                   f"but no {CONFIG_FILE} of this project; choose another {flag}")
        return None
    if saved.get("system") != system_name:
        raise ConfigMismatchError(f"{flag} {model_dir} belongs to a {saved.get('system')!r} "
                                  f"model, not {system_name!r}; choose another {flag}")
    if ckpt is not None:
        diffs = differences(saved.get("model", {}), model)
        if diffs:
            raise ConfigMismatchError(
                f"{flag} {model_dir} holds a checkpoint of another model configuration ("
                + "; ".join(diffs) + f"); use another {flag} or the same configuration")
    return saved


def write_config(model_dir, system_name, model, run=None):
    """Write ``config.json`` (atomically)."""
    data = {"written_by": MARK, "system": system_name, "model": model, "run": run or {}}
    with cli.atomic_write(os.path.join(model_dir, CONFIG_FILE)) as f:
        json.dump(data, f, indent=2, sort_keys=True)
