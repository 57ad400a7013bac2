"""Draw voxel cubes with VTK as ONE actor, offscreen to an image or in a window.

Facts kept from 3D-FCR-alphaGAN ``eval/util_vtk.py``:

- 512 x 512 window, white background, one cube per occupied voxel with
  ambient 0.5, diffuse 0.5, specular 0.1 (white specular colour).
- Fixed camera ("iso"): focal point ``c = (X/2, Y/2, Z/2)`` (the original
  hard-codes (40, 24, 40), i.e. the centre of an 80x48x80 scene, for every
  array; we scale it with the grid so downsampled or small arrays stay in
  view, and it is identical for 80x48x80), position
  ``(10 c0 cos(0.4 pi), 14 c1 sin(0.4 pi), 3 c2)``, view up ``(1, 0, 0)``.
- Interactive windows use the trackball camera style.

The original builds one actor per voxel (about 25,000 for a full scene); here
all cubes are one ``vtkGlyph3DMapper`` actor with per-point colours.
Views beyond the original: "top" (from above the height axis) and "front"
(along the scene's last axis), both aimed at the grid centre at the same
distance as "iso".
"""
import math

import numpy as np

from visualization import vtk_env

WINDOW_SIZE = 512
VIEWS = ("iso", "top", "front")


def camera_for(grid_shape, view="iso"):
    """``(position, focal_point, view_up)`` in world coordinates for a grid ``(X, Y, Z)``."""
    x, y, z = (float(s) for s in grid_shape)
    focal = np.array([x / 2, y / 2, z / 2])
    rad = math.pi * 0.4
    position = np.array([focal[0] * 10 * math.cos(rad), focal[1] * 14 * math.sin(rad),
                         focal[2] * 3])
    if view == "iso":
        return tuple(position), tuple(focal), (1.0, 0.0, 0.0)
    distance = float(np.linalg.norm(position - focal))
    centre = np.array([y / 2, x / 2, z / 2])  # world axes are (j, i, k)
    if view == "top":
        return tuple(centre + [distance, 0, 0]), tuple(centre), (0.0, 1.0, 0.0)
    if view == "front":
        return tuple(centre + [0, 0, distance]), tuple(centre), (1.0, 0.0, 0.0)
    raise ValueError(f"view: expected one of {VIEWS}, got {view!r}")


class VoxelRenderer:
    """A reusable VTK render window that draws voxel cubes as one glyph actor.

    ``offscreen=True`` renders without showing a window (through OSMesa when
    there is no display). Reuse one renderer for many pictures: creating the
    OpenGL context is the slowest step.
    """

    def __init__(self, size=WINDOW_SIZE, offscreen=True):
        self.vtk = vtk_env.load_vtk(offscreen)
        self.size = int(size)
        self.offscreen = offscreen
        self.renderer = self.vtk.vtkRenderer()
        self.renderer.SetBackground(1, 1, 1)
        self.window = self.vtk.vtkRenderWindow()
        if offscreen:
            self.window.SetOffScreenRendering(1)
        self.window.AddRenderer(self.renderer)
        self.window.SetSize(self.size, self.size)

    def voxel_actor(self, centers, colors, uniform_size=0.9):
        """One actor drawing a cube of side ``uniform_size`` at every centre, coloured per point."""
        vtk, ns = self.vtk, self.vtk.numpy_support
        points = vtk.vtkPoints()
        points.SetData(ns.numpy_to_vtk(np.ascontiguousarray(centers, np.float32), deep=True))
        cloud = vtk.vtkPolyData()
        cloud.SetPoints(points)
        rgb = ns.numpy_to_vtk(np.ascontiguousarray(colors, np.uint8), deep=True)
        rgb.SetName("colors")
        cloud.GetPointData().SetScalars(rgb)
        cube = vtk.vtkCubeSource()
        cube.SetXLength(uniform_size)
        cube.SetYLength(uniform_size)
        cube.SetZLength(uniform_size)
        mapper = vtk.vtkGlyph3DMapper()
        mapper.SetInputData(cloud)
        mapper.SetSourceConnection(cube.GetOutputPort())
        mapper.ScalingOff()
        mapper.OrientOff()
        mapper.SetScalarModeToUsePointData()
        mapper.SetColorModeToDirectScalars()
        actor = vtk.vtkActor()
        actor.SetMapper(mapper)
        style_actor(actor.GetProperty())
        return actor

    def set_actors(self, actors, grid_shape, view="iso"):
        """Replace the scene's actors and place the camera for ``view``."""
        self.renderer.RemoveAllViewProps()
        for actor in actors:
            self.renderer.AddActor(actor)
        position, focal, up = camera_for(grid_shape, view)
        camera = self.renderer.GetActiveCamera()
        self.renderer.ResetCamera()
        camera.SetFocalPoint(*focal)
        camera.SetViewUp(*up)
        camera.SetPosition(*position)
        self.renderer.ResetCameraClippingRange()

    def image(self):
        """Render and return the picture as uint8 ``[size, size, 3]`` (row 0 at the top)."""
        self.window.Render()
        grab = self.vtk.vtkWindowToImageFilter()
        grab.SetInput(self.window)
        grab.SetInputBufferTypeToRGB()
        grab.ReadFrontBufferOff()
        grab.ShouldRerenderOff()
        grab.Update()
        data = grab.GetOutput()
        w, h, _ = data.GetDimensions()
        pixels = self.vtk.numpy_support.vtk_to_numpy(data.GetPointData().GetScalars())
        return np.ascontiguousarray(pixels.reshape(h, w, -1)[::-1, :, :3])

    def draw(self, centers, colors, grid_shape, view="iso", uniform_size=0.9):
        """Render the given cubes and return the picture (see :meth:`image`)."""
        self.set_actors([self.voxel_actor(centers, colors, uniform_size)], grid_shape, view)
        return self.image()

    def show(self, title=None):
        """Open the interactive window (trackball camera) and block until it is closed."""
        if title:
            self.window.SetWindowName(title)
        interactor = self.vtk.vtkRenderWindowInteractor()
        interactor.SetInteractorStyle(self.vtk.vtkInteractorStyleTrackballCamera())
        interactor.SetRenderWindow(self.window)
        self.window.Render()
        interactor.Initialize()
        interactor.Start()

    def close(self):
        """Release the OpenGL context."""
        self.window.Finalize()


def style_actor(prop):
    """The original's material: ambient 0.5, diffuse 0.5, specular 0.1, white highlights."""
    prop.SetAmbient(0.5)
    prop.SetDiffuse(0.5)
    prop.SetSpecular(0.1)
    prop.SetSpecularColor(1, 1, 1)
