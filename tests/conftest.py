"""Shared test fixtures: quiet TensorFlow, locate the real data beside the project."""
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Scripts the tests start in subprocesses import this checkout's packages, not an
# installed copy of the project (an editable install may point at another checkout).
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(pathlib.Path(__file__).resolve().parents[1])]
    + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

import pytest

# TensorFlow first, whatever order the tests run in: importing it after OSMesa
# has rendered crashes, and with it loaded the viewer draws its pictures in a
# TensorFlow-free child process (see visualization/vtk_env.py), which the
# viewer tests thereby exercise; its command-line tests run without TensorFlow.
from data_provider import cli  # noqa: E402


def pytest_configure(config):
    """Load TensorFlow in every process that runs tests; not in pytest-xdist's controller,
    which only hands out the tests (its start-up would take a core from the test processes
    while they start)."""
    controller = getattr(config.option, "numprocesses", None) and not hasattr(config,
                                                                             "workerinput")
    if controller:
        return
    with cli._stderr_to(os.devnull):  # its start-up lines, once per test process
        import tensorflow  # noqa: F401  (imported for its side effect: loaded first)
        tensorflow.config.list_physical_devices()


PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

# The files that take longest (CPU seconds on the 2-core machine, about 65 down to 13 each),
# run first so that the test processes of `bash run.sh test` finish together: pytest-xdist
# (`--dist loadfile --no-loadscope-reorder`) hands out whole files in this order.
LONGEST_FIRST = ("test_train_gqn_draw.py", "test_air_resume.py", "test_train_fcr_alphagan.py",
                 "test_train_air.py", "test_train_gen.py", "test_gen_learning.py",
                 "test_loop.py", "test_gen_hotels.py", "test_gqn_tfr_provider.py",
                 "test_quickstart.py", "test_gqn_model.py", "test_maze_renderer.py",
                 "test_conv_draw.py", "test_air_camera.py", "test_eval_run.py")


def pytest_collection_modifyitems(items):
    """The files of ``LONGEST_FIRST`` first, in its order; the others after them, as
    collected (a stable sort keeps each file's tests in their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
SHARED_DATA = pathlib.Path(
    os.environ.get("GEN3D_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Root of the real data set beside the project (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA} (set GEN3D_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def gqn_real_root(shared_data):
    """Root holding real GQN shards (``<root>/mazes/{train,test}``)."""
    root = shared_data / "gqn-dataset"
    if not (root / "mazes" / "train").is_dir():
        pytest.skip(f"real GQN mazes shards not present under {root}")
    return root


@pytest.fixture(scope="session")
def sscnet_bin(shared_data):
    """The real SSCNet ground-truth scene ``NYU0001_0000.bin``."""
    path = shared_data / "sscnet" / "NYU0001_0000.bin"
    if not path.is_file():
        pytest.skip(f"real SSCNet scene not present at {path}")
    return path
