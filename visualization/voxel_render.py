"""Draw voxel cubes with VTK as ONE actor, offscreen to an image or in a window.

Facts kept from 3D-FCR-alphaGAN ``eval/util_vtk.py``:

- 512 x 512 window, white background, one cube per occupied voxel with
  ambient 0.5, diffuse 0.5, specular 0.1 (white specular colour).
- The original's fixed camera (here ``view="original"``): focal point
  ``c = (X/2, Y/2, Z/2)`` (the original hard-codes (40, 24, 40), the value for
  an 80x48x80 scene; here it scales with the grid), position
  ``(10 c0 cos(0.4 pi), 14 c1 sin(0.4 pi), 3 c2)``, view up
  ``(1, 0, 0)``, VTK's default 30 degree view angle.
- Interactive windows use the trackball camera style.

The original builds one actor per voxel (about 25,000 for a full scene); here
all cubes are one ``vtkGlyph3DMapper`` actor with per-point colours.

Cameras fitted to the grid (beyond the original). The original camera leaves
an 80x48x80 scene off-centre in the lower left of the picture and a small grid
(16x16x16) in a quarter of it, and cuts off the bottom of a 32x16x32 grid. The
default view "iso" keeps the original's viewing direction (from the focal
point towards its position for 80x48x80) and view up, aims at the centre of
the grid's box and sets the distance so the box's projection spans
:data:`FILL` of the picture, whatever the grid's size and shape. "top" (from
above the height axis) and "front" (along the scene's last axis) are fitted
the same way.
"""
import math

import numpy as np

from visualization import vtk_env

WINDOW_SIZE = 512
VIEWS = ("iso", "top", "front", "original")
VIEW_ANGLE = 30.0  # degrees: VTK's default, the original's
FILL = 0.9  # fitted views: the grid's box spans this fraction of the picture

# The original camera for 80x48x80, in world coordinates (j, i, k): focal point and position.
_ORIGINAL_FOCAL = np.array([40.0, 24.0, 40.0])
_ORIGINAL_POSITION = np.array([40 * 10 * math.cos(0.4 * math.pi), 24 * 14 * math.sin(0.4 * math.pi),
                               40 * 3])
# Fitted views: (direction from the grid's centre towards the camera, view up).
_DIRECTIONS = {
    "iso": (_ORIGINAL_POSITION - _ORIGINAL_FOCAL, (1.0, 0.0, 0.0)),
    "top": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "front": ((0.0, 0.0, 1.0), (1.0, 0.0, 0.0)),
}


def original_camera(grid_shape):
    """The original's camera for a grid ``(X, Y, Z)``: ``(position, focal_point, view_up)``."""
    x, y, z = (float(s) for s in grid_shape)
    focal = np.array([x / 2, y / 2, z / 2])
    rad = math.pi * 0.4
    position = np.array([focal[0] * 10 * math.cos(rad), focal[1] * 14 * math.sin(rad),
                         focal[2] * 3])
    return tuple(position), tuple(focal), (1.0, 0.0, 0.0)


def view_basis(direction, up):
    """Unit vectors ``(back, right, up)`` of a camera looking along ``-direction``."""
    back = np.asarray(direction, float)
    back = back / np.linalg.norm(back)
    right = np.cross(-back, np.asarray(up, float))
    right /= np.linalg.norm(right)
    return back, right, np.cross(right, -back)


def box_corners(grid_shape):
    """The 8 corners of the drawn box of a grid ``(X, Y, Z)`` in world coordinates ``(j, i, k)``."""
    x, y, z = (float(s) for s in grid_shape)
    return np.array([[a, b, c] for a in (0, y) for b in (0, x) for c in (0, z)])


def project(points, position, direction, up, view_angle=VIEW_ANGLE):
    """Picture coordinates (``-1..1`` across the frame) of world points seen from ``position``
    looking along ``-direction``: ``[M, 2]`` (right, up)."""
    back, right, up = view_basis(direction, up)
    q = np.asarray(points, float) - np.asarray(position, float)
    scale = -(q @ back) * math.tan(math.radians(view_angle) / 2)
    return np.stack([q @ right, q @ up], axis=1) / scale[:, None]


def fitted_distance(corners, centre, direction, up, fill=FILL, view_angle=VIEW_ANGLE):
    """Smallest camera distance from ``centre`` at which every corner projects within
    ``fill`` of the picture's half-width around its centre (perspective, square picture).

    A point at offset ``q`` from the centre is at depth ``d - q.back`` and
    projects to ``(q.right, q.up) / (depth tan(angle / 2))``; requiring both
    ``<= fill`` gives ``d >= q.back + |q.right or q.up| / (fill tan(angle / 2))``.
    """
    back, right, up = view_basis(direction, up)
    q = np.asarray(corners, float) - centre
    spread = np.maximum(np.abs(q @ right), np.abs(q @ up))
    return float(np.max(q @ back + spread / (fill * math.tan(math.radians(view_angle) / 2))))


def fit_camera(corners, direction, up, fill=FILL, view_angle=VIEW_ANGLE, rounds=8):
    """``(position, focal_point)`` looking along ``-direction`` so that the projection of
    ``corners`` is centred in the picture and spans ``fill`` of it.

    Starts at the corners' centroid; each round moves the focal point across the
    view so the projected box's middle comes to the picture's centre, then
    refits the distance (perspective makes the box's projection lopsided).
    """
    back, right, view_up = view_basis(direction, up)
    tan = math.tan(math.radians(view_angle) / 2)
    focal = np.asarray(corners, float).mean(axis=0)
    for _ in range(rounds):
        distance = fitted_distance(corners, focal, direction, up, fill, view_angle)
        xy = project(corners, focal + distance * back, direction, up, view_angle)
        middle = (xy.min(axis=0) + xy.max(axis=0)) / 2
        focal = focal + distance * tan * (middle[0] * right + middle[1] * view_up)
    distance = fitted_distance(corners, focal, direction, up, fill, view_angle)
    return focal + distance * back, focal


def camera_for(grid_shape, view="iso"):
    """``(position, focal_point, view_up)`` in world coordinates for a grid ``(X, Y, Z)``.

    ``original``: the original's camera; the other views are fitted to the grid
    (see the module docstring).
    """
    if view == "original":
        return original_camera(grid_shape)
    if view not in _DIRECTIONS:
        raise ValueError(f"view: expected one of {VIEWS}, got {view!r}")
    direction, up = _DIRECTIONS[view]
    position, focal = fit_camera(box_corners(grid_shape), direction, up)
    return tuple(position), tuple(focal), tuple(view_basis(direction, up)[2])


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
        camera.SetViewAngle(VIEW_ANGLE)
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
