"""From images to the answer: the network's candidates, the count search, the pose fitting.

    slots = predict_slots(model, images, config)      # numpy dict [N, max_primitives, ...]

``Search(model, config)`` runs these steps, each a method:

1. ``look``: the head's candidates (``models.air.heads``, ``propose``: up to
   ``explain_pool``, merged at ``merge_radius``, read ``glances`` times), with
   ``explain_mirror`` also those read from the images flipped left-right (the
   same scenes mirrored), the most present of both kept (``join_candidates``);
2. for a head whose candidates are searched (not the reference's slots) and
   with ``explain``: ``settle``, the count settled by re-rendering
   (``explain``), the kept primitives fitted to the image (``refine``,
   ``refine_rounds``) and the search run again with them among the candidates;
   then, with ``double_radius`` (by default under the perspective camera only),
   two kept primitives of one type on nearly the same image point tried as one
   (``undouble``);
3. with ``repeat`` and a network that reads a canvas: ``repeat`` more looks,
   each given the rendering of what is kept so far (``canvas``); what the
   network finds joins the kept primitives and the earlier candidates, and is
   settled again.

Otherwise the first ``max_primitives`` candidates are the answer. The
search's keys (``models.air.search.config``) are read from ``config``; the
network's (``max_primitives``, ``image_size``, ``supersample``, ``camera``:
every rendering of the search is by the scenes' camera) too.

Under a camera range (``camera_range``) each image is seen by its own camera,
which the network reads at the first look (from the image and, with
``explain_mirror``, from its mirror image, where the azimuth ``az`` reads as
``90 - az``: the two unit vectors of the azimuth and the two elevations are
averaged). Everything above happens in each image's camera frame, where its
camera is the isometric one (``models.air.scenes.to_camera_frame``): a
rendering there is the rendering by the image's own camera. Then the camera
read is fitted to the image by the renderer (``camera_rounds``:
``camera_fit``, the markers where the camera puts them over the kept
primitives; where they explain little, the best camera of a grid over the
range first), and the answer is turned to the world frame with it
(``scenes.to_world``) and carries it: ``camera [N, 2]``, azimuth in [0, 360)
and elevation in degrees.

The count and the fitting may run their chunks of images in ``workers``
threads (numpy lets go of the interpreter in its loops). The default is one:
on this 2-core machine, shared with other jobs, two threads were slower than
one (``benchmarks/air_search.py``). The images are independent, so the answer
is the same with any number.
"""
import concurrent.futures
import contextlib
import time
import weakref

import numpy as np

from models.air.scenes import render_scenes, to_world
from models.air.search.candidates import join_candidates, kept_first, unmirror
from models.air.search.config import double_radius, explain_gain, search_config
from models.air.search.explain import explain, refine, undouble

SLOT_KEYS = ("presence_logit", "type_logits", "position", "rotation")
_READERS = weakref.WeakKeyDictionary()


def _reader(model, pool, glances, merge_radius):
    """The head's ``propose`` as a ``tf.function``, made once per model and search setting
    (training predicts a few scenes after every epoch)."""
    import tensorflow as tf

    readers = _READERS.setdefault(model, {})
    key = (pool, glances, merge_radius)
    if key not in readers:
        head = model.head_type
        readers[key] = tf.function(
            lambda x: head.propose(model, x, pool, glances, merge_radius), autograph=False)
    return readers[key]


class Search:
    """The answer of ``model`` for images, searched as ``config`` says."""

    PROGRESS_SECONDS = 10.0  # a stage longer than this says how far it has got
    CHUNK = 100              # images at a time in the count and the fitting

    def __init__(self, model, config, batch_size=250, log=None, workers=1):
        self.model, self.batch_size = model, batch_size
        self.workers = workers
        self.threads, self.chunk = None, self.CHUNK  # an executor during a search
        self.log = log or (lambda message: None)  # a line per stage: minutes for many images
        self.k, self.image_size = config["max_primitives"], config["image_size"]
        self.supersample, self.camera = config["supersample"], config["camera"]
        if getattr(model, "camera", self.camera) != self.camera:
            raise ValueError(f"the network reads scenes of the {model.camera} camera, the "
                             f"config says {self.camera}")
        camera_range = config.get("camera_range")
        camera_range = None if camera_range is None else tuple(camera_range)
        if getattr(model, "camera_range", camera_range) != camera_range:
            raise ValueError(f"the network reads scenes of the camera range {model.camera_range}, "
                             f"the config says {camera_range}")
        self.camera_range = camera_range
        self.config = search_config(config)
        self.pool = self.config["explain_pool"]
        self.radius = self.config["merge_radius"] * 2.0 / self.image_size
        self.double_radius = double_radius(config)
        self.explain_gain = explain_gain(config)
        self.propose = _reader(model, self.pool, self.config["glances"],
                               self.config["merge_radius"])
        self.reads_canvas = getattr(model, "input_channels", 1) > 1

    def _stage(self, what, start):
        self.log(f"[search] {self._n} images: {what} ({time.monotonic() - start:.1f} s)")
        return time.monotonic()

    def _progress(self, doing):
        """A ``progress(done, n)`` for a stage: a line at most every ``PROGRESS_SECONDS``."""
        last = [time.monotonic()]

        def progress(done, n):
            now = time.monotonic()
            if done < n and now - last[0] >= self.PROGRESS_SECONDS:
                last[0] = now
                self.log(f"[search] {doing}: {done}/{n} images")
        return progress

    def __call__(self, images):
        images = np.asarray(images, np.float32)
        self.camera_read = None
        with self._threads(len(images)):
            slots = self._search(images)
        if self.camera_read is None:
            return slots
        from models.air.camera_head import camera_angles

        angles = camera_angles(self.camera_read)
        if self.config["camera_rounds"]:
            from models.air.search.camera_fit import fit_camera

            start = time.monotonic()
            angles = fit_camera(slots, angles, images, self.image_size, self.supersample,
                                self.config["camera_rounds"], chunk=self.chunk,
                                progress=self._progress("fitting cameras"), camera=self.camera,
                                camera_range=self.camera_range)
            angles[:, 0] %= 360.0
            self._stage(f"cameras fitted ({self.config['camera_rounds']} rounds)", start)
        position, rotation = to_world(slots["position"], slots["rotation"], angles)
        return dict(slots, position=position.astype(np.float32),
                    rotation=rotation.astype(np.float32), camera=angles.astype(np.float32))

    @contextlib.contextmanager
    def _threads(self, n):
        """``self.threads`` and ``self.chunk`` for ``n`` images: ``workers`` threads and
        about four chunks each (at least a quarter of ``CHUNK`` images) when that makes
        more than one chunk."""
        self.chunk = self.CHUNK if self.workers == 1 else \
            max(self.CHUNK // 4, min(self.CHUNK, -(-n // (4 * self.workers))))
        if self.workers == 1 or n <= self.chunk:
            yield
            return
        with concurrent.futures.ThreadPoolExecutor(self.workers) as pool:
            self.threads = pool
            try:
                yield
            finally:
                self.threads = None

    def _search(self, images):
        self._n, start = len(images), time.monotonic()
        empty = np.zeros(images.shape[:3], np.float32) if self.reads_canvas else None
        found = self.look(images, empty)
        start = self._stage("candidates read", start)
        if not (self.model.head_type.searched and self.config["explain"]):
            return {name: value[:, :self.k] for name, value in found.items()}
        slots = self.settle(images, found)
        looks = self.config["repeat"] if self.reads_canvas else 0
        for i in range(looks):
            start = time.monotonic()
            again = self.look(images, self.canvas(slots))
            found = join_candidates([kept_first(slots), again, found], self.pool, self.radius,
                                    self.camera)
            self._stage(f"second look {i + 1} of {looks}: candidates read", start)
            slots = self.settle(images, found)
        return slots

    def read(self, x):
        """The head's candidates for the network inputs ``x``, in batches (numpy dict), and
        the camera read (``camera [N, 3]``) under a camera range."""
        outs = [self.propose(x[i:i + self.batch_size]) for i in range(0, len(x), self.batch_size)]
        names = SLOT_KEYS + (("camera",) if "camera" in outs[0] else ())
        return {name: np.concatenate([o[name].numpy() for o in outs]) for name in names}

    def look(self, images, canvas=None):
        """Candidates for the images (given the ``canvas`` of what is explained, if any),
        with those of the mirrored images joined in (``explain_mirror``). The first look
        under a camera range keeps the camera read (``camera_read``)."""
        x = images if canvas is None else np.concatenate([images, canvas[..., None]], -1)
        found = self.read(x)
        camera = found.pop("camera", None)
        if self.config["explain_mirror"]:
            mirrored = self.read(np.ascontiguousarray(x[:, :, ::-1]))
            if camera is not None:
                camera = mean_camera(camera, mirrored.pop("camera"))
            found = join_candidates([found, unmirror(mirrored)], self.pool, self.radius,
                                    self.camera)
        if camera is not None and self.camera_read is None:
            self.camera_read = camera
        return found

    def count(self, images, candidates):
        """The subset of the candidates that best explains each image (``explain``)."""
        c = self.config
        return explain(candidates, images, self.k, self.image_size, self.supersample,
                       self.explain_gain, c["explain_floor"], c["explain_pool"],
                       self.chunk, self._progress("counting by re-rendering"), self.threads,
                       self.camera)

    def settle(self, images, candidates):
        """The count; then the kept primitives fitted (``refine``) and the count again, the
        fitted primitives first among the candidates, and doubles tried as one
        (``undouble``)."""
        start = time.monotonic()
        slots = self.count(images, candidates)
        start = self._stage("counted by re-rendering", start)
        if not self.config["refine_rounds"]:
            return slots
        slots = refine(slots, images, self.image_size, self.supersample,
                       self.config["refine_rounds"], chunk=self.chunk,
                       progress=self._progress("fitting poses"), pool=self.threads,
                       camera=self.camera)
        start = self._stage(f"poses fitted ({self.config['refine_rounds']} rounds)", start)
        slots = self.count(images, join_candidates([kept_first(slots), candidates], self.pool,
                                                   self.radius, self.camera))
        start = self._stage("counted again with the fitted poses", start)
        if self.double_radius:
            slots = undouble(slots, images, self.image_size, self.supersample,
                             self.double_radius, self.explain_gain,
                             self.config["refine_rounds"], self.chunk, self.threads,
                             self.camera)
            self._stage("doubles tried as one", start)
        return slots

    def canvas(self, slots):
        """The rendering of the primitives kept in ``slots`` ``[N, H, W]``."""
        kept = slots["presence_logit"] > 0
        return render_scenes(np.where(kept, slots["type_logits"].argmax(-1), -1),
                             slots["position"], slots["rotation"], self.image_size,
                             self.supersample, camera=self.camera)


def mean_camera(read, mirrored):
    """The camera of images read from them (``read [N, 3]``: ``cos az, sin az``, elevation
    in radians) and from their mirror images (``mirrored``, where the azimuth reads as
    ``90 - az``): the unit vectors of the azimuth averaged and normalised, the elevations
    averaged."""
    angle = np.pi / 2 - np.arctan2(mirrored[:, 1], mirrored[:, 0])
    unit = read[:, :2] + np.stack([np.cos(angle), np.sin(angle)], -1)
    unit /= np.maximum(np.linalg.norm(unit, axis=-1, keepdims=True), 1e-12)
    return np.concatenate([unit, (read[:, 2:] + mirrored[:, 2:]) / 2.0], -1)


def predict_slots(model, images, config, batch_size=250, log=None, workers=1):
    """The answer for ``images [N, H, W, 1]``: numpy dict ``[N, max_primitives, ...]``
    (``presence_logit``, ``type_logits``, ``position``, ``rotation``, in the world frame;
    under a camera range also ``camera [N, 2]``, degrees); see ``Search``.
    ``log`` receives a line after each stage of the search."""
    return Search(model, config, batch_size, log, workers)(images)
