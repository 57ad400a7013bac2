"""One way to rebuild a trained model of any system from its run directory.

    from models.restore import restore
    run = restore("/tmp/models/gqn")          # the system is read from config.json
    run.model, run.config, run.step           # GQNModel, its GQNConfig, the checkpoint's step

Every ``models/<system>`` package says how to build its networks from a
config with two functions:

* ``build_networks(config, **options) -> {name: network}``: the networks of a
  checkpoint under the names the training system saves them (``"model"`` for
  GQN, GEN and AIR, whose ``"model"`` holds the best validation epoch's
  weights; ``"encoder"``, ``"generator"``, ... for FCR-alphaGAN), every
  variable created;
* ``config_from_saved(model, run) -> config``: the config of a run from the
  ``model`` and ``run`` parts of its ``config.json``; ``ValueError`` (or a
  usage error) when they do not make one.

``restore`` reads ``config.json`` (``models/checkpoints.py``), builds the
networks and reads the weights of the latest checkpoint, or of ``checkpoint``,
without any optimizer. The evaluation and picture tools use it; none of them
imports ``training/``.
"""
import dataclasses
import importlib
import os

from models import checkpoints

# The system name written to config.json -> the package that builds it.
PACKAGES = {
    "gqn": "models.gqn",
    "gen": "models.gen",
    "fcr_alphagan": "models.fcr_alphagan",
    "air3d": "models.air",
}


@dataclasses.dataclass
class Restored:
    """A model read back from a run directory."""

    system: str
    config: object
    networks: dict
    step: int
    checkpoint: str
    run: dict

    @property
    def model(self):
        """The network saved as ``"model"`` (GQN, GEN, AIR)."""
        return self.networks["model"]


def package(system):
    """The ``models`` package of ``system`` (a name written to ``config.json``)."""
    if system not in PACKAGES:
        raise checkpoints.CheckpointError(
            f"unknown system {system!r} in {checkpoints.CONFIG_FILE}; expected one of "
            f"{', '.join(sorted(PACKAGES))}")
    return importlib.import_module(PACKAGES[system])


def saved_config(run_dir, system=None, flag="--model_dir"):
    """(system, config, run part) of the run in ``run_dir``; ``system`` checks whose it is."""
    if not os.path.isdir(run_dir):
        raise checkpoints.CheckpointError(f"{flag} {run_dir} does not exist")
    saved = checkpoints.read_config(run_dir)
    if saved is None:
        raise checkpoints.CheckpointError(
            f"{flag} {run_dir} holds no {checkpoints.CONFIG_FILE}; expected the output folder "
            "of a training run")
    found = saved.get("system")
    if system is not None and found != system:
        raise checkpoints.CheckpointError(f"{flag} {run_dir} holds a {found!r} model, not "
                                          f"{system!r}")
    model, run = saved.get("model", {}), saved.get("run", {})
    try:
        config = package(found).config_from_saved(model, run)
    except ValueError as e:
        raise checkpoints.CheckpointError(
            f"{flag} {run_dir}/{checkpoints.CONFIG_FILE}: {e}") from None
    return found, config, run


def restore(run_dir, system=None, *, checkpoint=None, names=None, flag="--model_dir",
            checkpoint_flag="--checkpoint", **options):
    """Rebuild the model of the run in ``run_dir`` and read its weights.

    ``system``: refuse a run of another system (e.g. ``"gqn"``); ``checkpoint``:
    a ``ckpt-N`` prefix instead of the latest; ``names``: restore only these
    networks (e.g. FCR-alphaGAN's encoder, generator and refiner); ``options``
    go to the package's ``build_networks``. Raises ``CheckpointError`` (a usage
    error: one line, exit 2) naming the folder or file that is wrong.
    """
    system, config, run = saved_config(run_dir, system, flag)
    networks = package(system).build_networks(config, **options)
    if names is not None:
        networks = {name: networks[name] for name in names}
    step, path = checkpoints.restore(checkpoint or run_dir, networks,
                                     checkpoint_flag if checkpoint else flag)
    return Restored(system, config, networks, step, path, run)
