"""Offscreen voxel pictures from any process: in-process, or in a TensorFlow-free child.

:func:`open_renderer` returns an object with ``draw(centers, colors,
grid_shape, view, uniform_size) -> uint8 [size, size, 3]`` and ``close()``:

- without TensorFlow in this process, a :class:`VoxelRenderer` (OSMesa
  ``llvmpipe`` in-process; speed in ``benchmarks/voxviz.py`` and the README);
- with TensorFlow already imported (``"tensorflow" in sys.modules``), a
  :class:`ChildRenderer` that sends the numpy cube centres and colours to one
  worker process and gets the uint8 picture back. Rendering with OSMesa next
  to TensorFlow crashes (see ``visualization/vtk_env.py``).

The worker is one lazily created single-worker ``ProcessPoolExecutor`` with
the multiprocessing "spawn" context, reused for every later picture (it keeps
its render window while the picture size stays the same) and shut down at
exit. It never imports TensorFlow: it is started while this process's
``__main__`` module is hidden, so "spawn" does not re-run the calling script
(which may import TensorFlow) in the child, and it checks ``sys.modules``
before the first picture. Importing TensorFlow after an in-process picture is
not supported (crash): import TensorFlow first.
"""
import atexit
import concurrent.futures
import contextlib
import multiprocessing
import os
import sys
import threading
import types
from concurrent.futures.process import BrokenProcessPool

from visualization import vtk_env
from visualization.voxel_render import VoxelRenderer

_LOCK = threading.Lock()
_POOL = []  # at most one executor; a list so the module holds no rebindable global
_EXIT_HOOK = []  # True once shutdown() is registered with atexit


def use_child(child=None):
    """Whether pictures go to the child process: ``child`` if given, else TensorFlow loaded."""
    return vtk_env.tensorflow_loaded() if child is None else bool(child)


def open_renderer(size, child=None):
    """A renderer for offscreen pictures of side ``size``; see the module docstring.

    ``child=None`` decides by :func:`vtk_env.tensorflow_loaded`; True/False force it.
    """
    return ChildRenderer(size) if use_child(child) else VoxelRenderer(size, offscreen=True)


class ChildRenderer:
    """Same ``draw``/``close`` as :class:`VoxelRenderer`, drawn by the worker process."""

    def __init__(self, size):
        self.size = int(size)
        worker()  # start the worker now, so a failure is reported before any work

    def draw(self, centers, colors, grid_shape, view="iso", uniform_size=0.9):
        """Render in the worker; returns uint8 ``[size, size, 3]``."""
        future = worker().submit(_worker_draw, self.size, centers, colors, tuple(grid_shape),
                                 view, uniform_size)
        try:
            return future.result()
        except BrokenProcessPool:
            shutdown()
            raise RuntimeError("the VTK render process died while drawing a picture") from None

    def close(self):
        """Nothing to release here: the worker stays for the next pictures (shut down at exit)."""


@contextlib.contextmanager
def _main_module_hidden():
    """Let "spawn" see no ``__main__`` file or module name, so the child does not re-run it."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def worker():
    """The single-worker spawn executor, created on first use and checked to be TensorFlow-free."""
    with _LOCK:
        if _POOL:
            return _POOL[0]
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            with _main_module_hidden():
                # the process is spawned by the first submit: inside the hidden-main window
                loaded = pool.submit(vtk_env.tensorflow_loaded).result()
        except BrokenProcessPool:
            pool.shutdown(wait=False)
            raise RuntimeError("could not start the VTK render process") from None
        if loaded:
            pool.shutdown()
            raise RuntimeError("the VTK render process imported TensorFlow; OSMesa cannot "
                               "render next to it (see visualization/vtk_env.py)")
        if not _EXIT_HOOK:
            atexit.register(shutdown)
            _EXIT_HOOK.append(True)
        _POOL.append(pool)
        return pool


def worker_pid():
    """Process id of the worker (starting it if needed)."""
    return worker().submit(os.getpid).result()


def shutdown():
    """Stop the worker (it is started again on the next picture)."""
    with _LOCK:
        while _POOL:
            _POOL.pop().shutdown(wait=True)


_WORKER_STATE = {}  # inside the worker process only: its current VoxelRenderer


def _worker_draw(size, centers, colors, grid_shape, view, uniform_size):
    """Worker side: draw with a renderer kept between calls of the same size."""
    renderer = _WORKER_STATE.get("renderer")
    if renderer is None or renderer.size != size:
        if renderer is not None:
            renderer.close()
        renderer = _WORKER_STATE["renderer"] = VoxelRenderer(size, offscreen=True)
    return renderer.draw(centers, colors, grid_shape, view, uniform_size)
