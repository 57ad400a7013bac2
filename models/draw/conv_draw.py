"""ConvDRAW: the convolutional DRAW renderer shared by GQN and GEN.

Inputs: a conditioning r (a vector [B, Cr] or a map [B, h, w, Cr], decided by
its rank), a query pose v [B, P] and, for the training pass, the target image
x [B, H, W, 3]. On a grid of [h, w] = [H, W] / block, per step l = 1..L, with
zero initial states and a zero canvas u [B, H, W, Cc]:

    posterior pass (``call``)                 generation pass (``generate``)
    (mu_pi, s_pi) = eta_pi(h_g)               z ~ N(eta_pi(h_g))
    h_e = inference core(r, v, h_g, h_e; x, u)
    (mu_q, s_q) = eta_q(h_e); z ~ N(mu_q, s_q)
    h_g = generator core(r, v, z, h_g); u += up(h_g)   (both passes)

and the image mean is ``eta_g(u_L)``, a SAME convolution of the canvas.

Two flavours, the two originals' choices (``flavour``):

| | ``"tf_gqn"`` (tf-gqn) | ``"gen"`` (torch-gqn, used by GEN) |
| --- | --- | --- |
| gate convolution | one per input, each with a bias | one over the concatenated inputs |
| forget bias | 1.0 | 0.0 |
| r, v reach the cores | broadcast to the grid | transposed convs per core, no bias (r to U) |
| inference reads x, u | ``h_e += conv(concat(x, u))`` | ``conv(x)``, ``conv(u)`` as gate inputs |
| eta scale | ``softplus(x + 0.5) + 1e-8`` | ``exp(0.5 log sigma^2)`` |
| canvas ``up`` | with bias | without bias |

(U: ``upsample_channels``.)

``shared_cores``: one generator and one inference core for every step (both
originals' default) or a core per step; eta_pi, eta_q and eta_g are always
shared. ``original_prior_timing=True`` reproduces tf-gqn's off-by-one: the
training pass takes the prior of step l from h_g after step l's update (the
prior the generation pass uses at step l + 1).

Fused path (``optimized=True``, the default; same variables and, up to
rounding, the same outputs and gradients as the naive path):

- r and v do not change across steps: their gate contribution (and in the
  "gen" flavour their upsampling) is computed once per pass per core;
  vectors broadcast to the grid are convolved in closed form
  (``convlstm.broadcast_conv``);
- the target is read through one convolution of its 4x4 blocks composed with
  the gate kernel (``InferenceCore.target_gates``), once per pass;
- the steps' varying inputs go through one convolution of their
  concatenation;
- the canvas is never formed: its readers (the inference core's 4x4 / 4
  convolution and a 1x1 eta_g) compose with ``up`` into per-position
  matrices (``canvas.LatentCanvas``);
- at the first step states and canvas are zero: only the z and target terms
  are computed, and eta_pi is its bias;
- with ``winograd=True`` the gate convolutions run as Winograd F(4x4, k x k)
  in float32 (``models/winograd.py``: 6.25x fewer multiplications for k = 5,
  outputs equal to about 1e-5 relative).
"""
import dataclasses

import keras
import tensorflow as tf

from models.draw.canvas import LatentCanvas
from models.draw.cores import GeneratorCore, InferenceCore
from models.draw.eta import GaussianHead, sample_z


@dataclasses.dataclass(frozen=True)
class Flavour:
    bias_per_input: bool
    forget_bias: float
    upsample: bool
    reads_into_hidden: bool
    scale: str
    canvas_bias: bool


FLAVOURS = {
    "tf_gqn": Flavour(bias_per_input=True, forget_bias=1.0, upsample=False,
                      reads_into_hidden=True, scale="softplus", canvas_bias=True),
    "gen": Flavour(bias_per_input=False, forget_bias=0.0, upsample=True,
                   reads_into_hidden=False, scale="log_variance", canvas_bias=False),
}


def _pair(size):
    return (size, size) if isinstance(size, int) else tuple(size)


class ConvDRAW(keras.layers.Layer):
    """Convolutional DRAW: ``draw((r, v, x))`` posterior pass, ``draw.generate(r, v)``.

    Both return float32 tensors in a dict: "mu_target" [B, H, W, 3] (eta_g
    of the last canvas) and "canvases" [L, B, H, W, 3] (eta_g of each step's
    canvas); the posterior pass also "posterior_mu", "posterior_sigma",
    "prior_mu", "prior_sigma", each [L, B, h, w, Z]. ``noise`` ([L, B, h, w, Z]
    standard normals, optional) fixes the reparameterisation noise.
    """

    def __init__(self, *, conditioning_channels, image_size=64, grid_size=16, image_channels=3,
                 pose_channels=7, hidden_channels=256, canvas_channels=256, z_channels=64,
                 kernel_size=5, eta_kernel_size=5, eta_g_kernel_size=1, num_steps=8,
                 shared_cores=True, flavour="tf_gqn", upsample_channels=256, optimized=True,
                 original_prior_timing=False, winograd=False, **kwargs):
        super().__init__(**kwargs)
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {sorted(FLAVOURS)}, got {flavour!r}")
        self.image_size, self.grid = _pair(image_size), _pair(grid_size)
        block = self.image_size[0] // self.grid[0]
        if any(i != block * g for i, g in zip(self.image_size, self.grid)):
            raise ValueError(f"image size {self.image_size} must be the same multiple of the "
                             f"grid size {self.grid} along both axes")
        self.flavour = FLAVOURS[flavour]
        self.num_steps, self.z_channels = num_steps, z_channels
        self.optimized, self.original_prior_timing = optimized, original_prior_timing
        f, policy = self.flavour, self.dtype_policy
        common = dict(hidden_channels=hidden_channels, canvas_channels=canvas_channels,
                      conditioning_channels=conditioning_channels, pose_channels=pose_channels,
                      kernel_size=kernel_size, grid=self.grid, block=block,
                      bias_per_input=f.bias_per_input, forget_bias=f.forget_bias,
                      upsample=upsample_channels if f.upsample else None,
                      winograd=winograd and optimized, dtype=policy)
        n_cores = 1 if shared_cores else num_steps
        self.generator_cores = [
            GeneratorCore(z_channels=z_channels, canvas_bias=f.canvas_bias,
                          name=f"generator_core_{i}", **common) for i in range(n_cores)]
        self.inference_cores = [
            InferenceCore(image_channels=image_channels, reads_into_hidden=f.reads_into_hidden,
                          name=f"inference_core_{i}", **common) for i in range(n_cores)]
        head = (z_channels, eta_kernel_size, hidden_channels, *self.grid)
        self.eta_pi = GaussianHead(*head, scale=f.scale, name="eta_pi", dtype=policy)
        self.eta_q = GaussianHead(*head, scale=f.scale, name="eta_q", dtype=policy)
        self.eta_g = keras.layers.Conv2D(image_channels, eta_g_kernel_size, padding="same",
                                         name="eta_g", dtype=policy)
        self.eta_g.build((None, *self.image_size, canvas_channels))
        self.built = True

    # ----------------------------------------------------------------- helpers
    def _cores(self, step):
        k = step % len(self.generator_cores)
        return k, self.generator_cores[k], self.inference_cores[k]

    def noise_shape(self, batch):
        """The shape of the ``noise`` a pass takes: [num_steps, batch, h, w, z_channels]."""
        return [self.num_steps, batch, *self.grid, self.z_channels]

    def _noise(self, noise, batch):
        if noise is None:
            noise = tf.random.normal(self.noise_shape(batch))
        return tf.cast(noise, self.compute_dtype)

    def _cast(self, *tensors):
        return [tf.cast(t, self.compute_dtype) for t in tensors]

    def _zeros(self, batch, channels, size):
        return tf.zeros([batch, *size, channels], self.compute_dtype)

    @staticmethod
    def _outputs(images, **stats):
        images = [tf.cast(image, tf.float32) for image in images]
        out = {"mu_target": images[-1], "canvases": tf.stack(images)}
        for key, values in stats.items():
            out[key] = tf.cast(tf.stack(values), tf.float32)
        return out

    # --------------------------------------------------------------- posterior
    def call(self, inputs, training=False, noise=None):
        """Posterior (training) pass: ``inputs = (r, v, x)``."""
        r, pose, target = self._cast(*inputs)
        batch = tf.shape(target)[0]
        eps = self._noise(noise, batch)
        if self.optimized:
            return self._fused_posterior(r, pose, target, batch, eps)
        gen0 = self.generator_cores[0]
        hidden = self._zeros(batch, gen0.lstm.output_channels, self.grid)
        canvas = self._zeros(batch, gen0.upsample.filters, self.image_size)
        h_g = c_g = h_e = c_e = hidden
        images, stats = [], {k: [] for k in ("posterior_mu", "posterior_sigma", "prior_mu",
                                             "prior_sigma")}
        for step in range(self.num_steps):
            _, gen, inf = self._cores(step)
            if not self.original_prior_timing:
                prior = self.eta_pi(h_g)
            c_e, h_e = inf(dict(inf.condition_maps(r, pose), h_g=h_g, h_e=h_e), c_e, target,
                           canvas)
            posterior = self.eta_q(h_e)
            z = sample_z(*posterior, eps[step])
            c_g, h_g, canvas = gen(dict(gen.condition_maps(r, pose), z=z, h_g=h_g), c_g, canvas)
            if self.original_prior_timing:
                prior = self.eta_pi(h_g)
            images.append(self.eta_g(canvas))
            self._record(stats, posterior, prior)
        return self._outputs(images, **stats)

    @staticmethod
    def _record(stats, posterior, prior):
        for key, value in zip(stats, (*posterior, *prior)):
            stats[key].append(value)

    def _fused_posterior(self, r, pose, target, batch, eps):
        """``call`` on the fused path (see the module docstring)."""
        plan = self._plan(r, pose, target)
        canvas = LatentCanvas(self.generator_cores, self.eta_g, self.compute_dtype)
        images, stats = [], {k: [] for k in ("posterior_mu", "posterior_sigma", "prior_mu",
                                             "prior_sigma")}
        h_g = c_g = None  # zero states, never formed
        for step in range(self.num_steps):
            k, gen, inf = self._cores(step)
            p = plan[k]
            if step == 0:
                if not self.original_prior_timing:
                    prior = self.eta_pi.of_zero(batch)
                c_e, h_e = inf.lstm.update(p["first_inf"], None)
            else:
                if not self.original_prior_timing:
                    prior = self.eta_pi(h_g)
                read = canvas.down(inf)
                if inf.reads_into_hidden:
                    varying = [h_g, h_e + p["target_read"] + read]
                else:
                    varying = [h_g, h_e, read]
                c_e, h_e = inf.lstm.fused_step(varying, p["k_inf"], p["const_inf"], c_e)
            posterior = self.eta_q(h_e)
            z = sample_z(*posterior, eps[step])
            c_g, h_g = self._generator_step(gen, p, step, z, h_g, c_g)
            if self.original_prior_timing:
                prior = self.eta_pi(h_g)
            canvas.add(h_g, k)
            images.append(canvas.image)
            self._record(stats, posterior, prior)
        return self._outputs(images, **stats)

    @staticmethod
    def _generator_step(gen, p, step, z, h_g, c_g):
        if step == 0:  # zero state: only z's term
            return gen.lstm.fused_step([z], p["k_gen_first"], p["const_gen"], None)
        return gen.lstm.fused_step([z, h_g], p["k_gen"], p["const_gen"], c_g)

    def _plan(self, r, pose, target=None):
        """Per core, what does not change across the steps it runs: gate
        kernels of its varying inputs, the step-invariant gates and, with a
        target, the target's terms."""
        steps, n_cores = self.num_steps, len(self.generator_cores)
        plan = []
        for index, (gen, inf) in enumerate(zip(self.generator_cores, self.inference_cores)):
            runs = range(index, steps, n_cores)
            first, later = 0 in runs, any(step > 0 for step in runs)
            p = {"const_gen": gen.constant_gates(r, pose)}
            if first:
                p["k_gen_first"] = gen.lstm.kernel("z")
            if later:
                p["k_gen"] = gen.lstm.fused_kernel(["z", "h_g"])
            if target is not None:
                const_inf = inf.constant_gates(r, pose)
                if inf.reads_into_hidden:  # the target enters through h_e's kernel
                    if first:
                        p["first_inf"] = const_inf + inf.target_gates(target)
                    if later:
                        p["target_read"] = inf.target_down(target)
                        p["k_inf"] = inf.lstm.fused_kernel(["h_g", "h_e"])
                else:
                    const_inf = const_inf + inf.target_gates(target)
                    p["first_inf"] = const_inf
                    if later:
                        p["k_inf"] = inf.lstm.fused_kernel(["h_g", "h_e", "canvas"])
                p["const_inf"] = const_inf
            plan.append(p)
        return plan

    # -------------------------------------------------------------- generation
    def generate(self, conditioning, pose, noise=None):
        """Generation pass from the prior: dict with "mu_target" and "canvases"."""
        r, pose = self._cast(conditioning, pose)
        batch = tf.shape(pose)[0]
        eps = self._noise(noise, batch)
        images = []
        if self.optimized:
            plan = self._plan(r, pose)
            canvas = LatentCanvas(self.generator_cores, self.eta_g, self.compute_dtype)
            h_g = c_g = None
            for step in range(self.num_steps):
                k, gen, _ = self._cores(step)
                prior = self.eta_pi.of_zero(batch) if step == 0 else self.eta_pi(h_g)
                z = sample_z(*prior, eps[step])
                c_g, h_g = self._generator_step(gen, plan[k], step, z, h_g, c_g)
                canvas.add(h_g, k)
                images.append(canvas.image)
            return self._outputs(images)
        gen0 = self.generator_cores[0]
        h_g = c_g = self._zeros(batch, gen0.lstm.output_channels, self.grid)
        canvas = self._zeros(batch, gen0.upsample.filters, self.image_size)
        for step in range(self.num_steps):
            _, gen, _ = self._cores(step)
            z = sample_z(*self.eta_pi(h_g), eps[step])
            c_g, h_g, canvas = gen(dict(gen.condition_maps(r, pose), z=z, h_g=h_g), c_g, canvas)
            images.append(self.eta_g(canvas))
        return self._outputs(images)
