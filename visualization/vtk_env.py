"""Choose VTK's render window backend before VTK is imported.

VTK 9 wheels pick their OpenGL window class from the environment variable
``VTK_DEFAULT_OPENGL_WINDOW`` when a render window is created. Without a
display (``DISPLAY`` and ``WAYLAND_DISPLAY`` unset), or when an offscreen
picture is requested, we select ``vtkOSOpenGLRenderWindow``, which renders
through Mesa's OSMesa library (Debian package ``libosmesa6``; ``run.sh``
installs it when run as root).

Every module that renders with VTK calls :func:`load_vtk` instead of importing
``vtk`` itself, so this choice is made in one place.

TensorFlow and OSMesa do not share a process. TensorFlow loads its own LLVM,
absl and protobuf symbols into the global namespace; Mesa's default
``llvmpipe`` driver carries another LLVM. Measured with the VTK 9.7 wheel and
Debian's libosmesa6: rendering after ``import tensorflow`` crashes
(segmentation fault), the ``softpipe`` driver renders but the process aborts
at exit (``free(): invalid pointer``), and importing TensorFlow after OSMesa
has rendered crashes at the import. Therefore, when TensorFlow is already
loaded (:func:`tensorflow_loaded`), every picture is drawn in a child process
started with the multiprocessing "spawn" method that never imports
TensorFlow (``visualization/render_process.py``); otherwise the picture is
drawn in-process with ``llvmpipe`` (the viewer's own commands never import
TensorFlow). Importing TensorFlow AFTER rendering in the same process is not
supported (it crashes): a program that needs both must import TensorFlow
first.
"""
import ctypes.util
import os
import sys

OSMESA_WINDOW = "vtkOSOpenGLRenderWindow"
ENV_VAR = "VTK_DEFAULT_OPENGL_WINDOW"


def has_display(environ=None):
    """True when an X11 or Wayland display is advertised in the environment."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


def osmesa_available():
    """True when the OSMesa shared library can be found by the dynamic loader."""
    return ctypes.util.find_library("OSMesa") is not None


def tensorflow_loaded(modules=None):
    """True when TensorFlow is imported in this process (pictures then come from a child)."""
    return "tensorflow" in (sys.modules if modules is None else modules)


def needs_offscreen(offscreen=False, environ=None):
    """Offscreen rendering is used when asked for or when there is no display."""
    return bool(offscreen) or not has_display(environ)


def configure(offscreen=False, environ=None):
    """Set ``VTK_DEFAULT_OPENGL_WINDOW`` for OSMesa when offscreen rendering is needed.

    Returns True when the OSMesa window was selected. An explicit value already
    present in the environment is left alone. With a display but without
    OSMesa, offscreen pictures use the display's window class (hidden).
    Raises RuntimeError when there is no display and no OSMesa.
    """
    environ = os.environ if environ is None else environ
    if not needs_offscreen(offscreen, environ):
        return False
    if not osmesa_available():
        if has_display(environ):
            return False  # the display's own window class can also render offscreen
        raise RuntimeError(
            "offscreen rendering needs the OSMesa library (libOSMesa.so), which was "
            "not found: install it with 'apt-get install libosmesa6' or run "
            "'bash run.sh setup' as root")
    environ.setdefault(ENV_VAR, OSMESA_WINDOW)
    return environ[ENV_VAR] == OSMESA_WINDOW


def load_vtk(offscreen=False):
    """Configure the backend, then import and return the VTK modules we render with.

    Raises RuntimeError when OSMesa is selected and TensorFlow is loaded (see
    the module docstring): such processes render through ``render_process``.

    Returns a namespace-like module object with the classes used by the viewer
    (``vtkRenderWindow``, ``vtkRenderer``, ``vtkActor``, ``vtkGlyph3DMapper``,
    ``vtkCubeSource``, ``vtkPolyData``, ``vtkPoints``, ``vtkWindowToImageFilter``,
    ``vtkRenderWindowInteractor``, ``vtkInteractorStyleTrackballCamera``,
    ``vtkPolyDataMapper``, ``vtkCellArray``, ``numpy_support``).
    """
    if configure(offscreen) and tensorflow_loaded():
        raise RuntimeError(
            "OSMesa rendering next to TensorFlow crashes: render through "
            "visualization.render_process.open_renderer (a TensorFlow-free child process)")
    import types

    import vtkmodules.vtkInteractionStyle  # registers interactor styles
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (registers the OpenGL backend)
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonCore import vtkPoints
    from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
    from vtkmodules.vtkFiltersSources import vtkCubeSource
    from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
    from vtkmodules.vtkRenderingCore import (
        vtkActor,
        vtkGlyph3DMapper,
        vtkPolyDataMapper,
        vtkRenderer,
        vtkRenderWindow,
        vtkRenderWindowInteractor,
        vtkWindowToImageFilter,
    )

    return types.SimpleNamespace(
        vtkActor=vtkActor, vtkGlyph3DMapper=vtkGlyph3DMapper,
        vtkPolyDataMapper=vtkPolyDataMapper, vtkRenderer=vtkRenderer,
        vtkRenderWindow=vtkRenderWindow, vtkRenderWindowInteractor=vtkRenderWindowInteractor,
        vtkWindowToImageFilter=vtkWindowToImageFilter, vtkCubeSource=vtkCubeSource,
        vtkPolyData=vtkPolyData, vtkPoints=vtkPoints, vtkCellArray=vtkCellArray,
        vtkInteractorStyleTrackballCamera=vtkInteractorStyleTrackballCamera,
        numpy_support=numpy_support)
