"""AIR 3D metrics (numpy), with the reference's definitions.

Predicted slots are first assigned to the true primitives (``assignment
[N, K]``, slot ``k`` -> target slot ``assignment[n, k]``, -1 for none): by
Hungarian matching on the loss's cost, or the identity on x-sorted targets
(the reference). Then:

* count accuracy: the number of slots with presence probability > 0.5 equals
  the number of primitives;
* per-slot presence accuracy: over every (scene, slot), predicted presence
  equals the presence of the target the slot is assigned to;
* over the true primitives (each with the slot assigned to it): type
  accuracy and confusion matrix (rows true, columns predicted), position MAE
  per axis (targets in [-1, 1]); for cubes and cylinders (spheres masked)
  the rotation MAE per Euler axis (the reference's metric; it ignores the
  shapes' symmetries, 0.785 rad is the error of always answering pi/2) and
  the symmetry-aware geodesic error (mean and median, also per type);
* position error split along the camera's image-plane axes (right, up) and
  its viewing axis (depth), and the error of the depth-blind estimate
  (``scenes.depth_blind_positions``) on the same primitives: under the
  orthographic camera a bound on what one image tells; under the perspective
  camera, where a primitive's size tells its depth, the error of the image
  point alone (a baseline, not a bound), and the per-axis position MAE is the
  figure that counts.

Under a camera range (``data["camera"]``) positions and rotations are scored in
the world frame as always (the answer comes there with the camera the network
read), the split along the image axes is along each scene's own camera's, and
the camera read (``pred["camera"]``) is scored: the median over scenes of the
azimuth error, wrapped (359 against 1 degree is 2: ``scenes.wrapped_degrees``),
and of the elevation error, in degrees (``camera_azimuth_error_median``,
``camera_elevation_error_median``, and their means).
"""
import numpy as np

from models.air import rotations, scenes


def _inverse(assignment, k):
    """``slot_of[n, j]``: the slot assigned to target ``j`` (0 where none)."""
    slot_of = np.zeros((assignment.shape[0], k), np.int64)
    rows, slots = np.nonzero(assignment >= 0)
    slot_of[rows, assignment[rows, slots]] = slots
    return slot_of


def compute_metrics(pred, data, assignment, camera="orthographic"):
    """Metrics dict of predictions ``pred`` (numpy: ``presence_logit [N, K]``,
    ``type_logits [N, K, 3]``, ``position [N, K, 3]``, ``rotation [N, K, 3, 3]``)
    against ``data`` (``generate_dataset`` arrays of scenes seen by ``camera``) under
    ``assignment [N, K]``."""
    assignment = np.asarray(assignment)
    present_pred = np.asarray(pred["presence_logit"]) > 0.0
    count_pred = present_pred.sum(axis=1)
    presence_true = assignment >= 0
    slot_of = _inverse(assignment, data["types"].shape[1])
    gather = lambda a: scenes.take_slots(a, slot_of)  # noqa: E731  predicted values per target slot
    present = data["types"] >= 0
    true_types = data["types"][present]
    pred_types = gather(pred["type_logits"]).argmax(-1)[present]
    positions = data["positions"][present].astype(np.float64)
    pred_positions = gather(pred["position"])[present].astype(np.float64)
    rotating = true_types != rotations.SPHERE
    pred_rot = gather(pred["rotation"])[present][rotating]
    true_rot = data["rotations"][present][rotating]
    geodesic = rotations.symmetric_geodesic_error(pred_rot, true_rot, true_types[rotating])
    euler = rotations.euler_abs_error(pred_rot, data["euler"][present][rotating])
    error = pred_positions - positions
    axes = np.stack(scenes.view_axes())                        # right, up, forward
    cameras = None
    if "camera" in data:         # each scene's own camera: its axes, its eye
        cameras = np.asarray(data["camera"], np.float64)
        scene_of = np.nonzero(present)[0]
        turn = scenes.camera_rotation(cameras)[scene_of]       # C: error in its frame C^T e
        error_view = np.einsum("nij,ni->nj", turn, error) @ axes.T
        cameras = cameras[scene_of]
    else:
        error_view = error @ axes.T
    blind = scenes.depth_blind_positions(positions, camera, cameras) - positions
    confusion = np.zeros((len(scenes.TYPES),) * 2, np.int64)
    np.add.at(confusion, (true_types, pred_types), 1)
    out = {
        "scenes": int(len(count_pred)),
        "primitives": int(present.sum()),
        "count_accuracy": float(np.mean(count_pred == data["count"])),
        "presence_accuracy": float(np.mean(present_pred == presence_true)),
        "type_accuracy": float(np.mean(pred_types == true_types)),
        "position_mae": np.abs(error).mean(axis=0).tolist(),
        "position_mae_view": np.abs(error_view).mean(axis=0).tolist(),
        "depth_blind_position_mae": np.abs(blind).mean(axis=0).tolist(),
        "rotation_mae_euler": euler.mean(axis=0).tolist() if len(euler) else [float("nan")] * 3,
        "rotation_geodesic_mean": float(np.mean(geodesic)) if len(geodesic) else float("nan"),
        "rotation_geodesic_median": float(np.median(geodesic)) if len(geodesic) else float("nan"),
        "type_confusion": confusion.tolist(),
    }
    for index in (rotations.CUBE, rotations.CYLINDER):
        name = scenes.TYPES[index]
        errors = geodesic[true_types[rotating] == index]
        out[f"rotation_geodesic_median_{name}"] = float(np.median(errors)) if len(errors) \
            else float("nan")
    if "camera" in pred and "camera" in data:
        out.update(camera_errors(pred["camera"], data["camera"]))
    return out


def camera_errors(read, true):
    """Median and mean azimuth (wrapped) and elevation errors in degrees of cameras read
    ``[N, 2]`` against the true ``[N, 2]`` (azimuth, elevation in degrees)."""
    read, true = np.asarray(read, np.float64), np.asarray(true, np.float64)
    azimuth = scenes.wrapped_degrees(read[:, 0] - true[:, 0])
    elevation = np.abs(read[:, 1] - true[:, 1])
    return {"camera_azimuth_error_median": float(np.median(azimuth)),
            "camera_elevation_error_median": float(np.median(elevation)),
            "camera_azimuth_error_mean": float(np.mean(azimuth)),
            "camera_elevation_error_mean": float(np.mean(elevation))}


def per_primitive_errors(pred, data, assignment):
    """Per true primitive: ``types``, predicted types, position errors ``[M, 3]``,
    symmetry-aware rotation errors (``nan`` for spheres) and the true and predicted
    depths (``depth``, ``pred_depth``: along its scene's viewing axis, position units,
    ``view_depths``), for histograms and scatters."""
    slot_of = _inverse(np.asarray(assignment), data["types"].shape[1])
    gather = lambda a: scenes.take_slots(a, slot_of)  # noqa: E731
    present = data["types"] >= 0
    types = data["types"][present]
    cameras = data.get("camera")
    scene_of = np.nonzero(present)[0]
    cameras = None if cameras is None else np.asarray(cameras, np.float64)[scene_of]
    pred_positions = gather(pred["position"])[present]
    return {"types": types,
            "depth": view_depths(data["positions"][present], cameras),
            "pred_depth": view_depths(pred_positions, cameras),
            "pred_types": gather(pred["type_logits"]).argmax(-1)[present],
            "position_error": pred_positions - data["positions"][present],
            "rotation_error": rotations.symmetric_geodesic_error(
                gather(pred["rotation"])[present], data["rotations"][present], types)}


def view_depths(positions, cameras=None):
    """``[M]``: positions ``[M, 3]`` (position units) along the viewing axis of their
    camera, from the cube's centre (larger is farther from the eye): the one isometric
    camera's, or under a camera range each one's own (``cameras [M, 2]``, degrees)."""
    positions = np.asarray(positions, np.float64)
    if cameras is not None:      # C^T p: the position in the isometric camera's frame
        positions = np.einsum("nij,ni->nj", scenes.camera_rotation(cameras), positions)
    return positions @ np.asarray(scenes.view_axes()[2], np.float64)


def assign_slots(pred, data, config):
    """Slot assignment ``[N, K]`` for the metrics: the loss's matching (Hungarian on
    the weighted pair cost, or the identity for ``matching == "sorted"``)."""
    from models.air import losses, matching

    present = np.asarray(data["types"]) >= 0
    if config["matching"] == "sorted":
        return matching.sorted_slots(present)
    costs = losses.pair_costs(pred, data)
    weights = {t: config[f"w_{t}"] for t in losses.TERMS}
    cost = losses.matching_cost(costs, losses.absent_cost(pred), weights)
    return matching.match_slots(cost.numpy(), present)
