"""GQNModel: the scene encoder plus the ConvDRAW generator/inference cores.

Facts kept from tf-gqn (``gqn/gqn_graph.py``, ``gqn/gqn_draw.py``):

- the representation r is the sum over context views of the encoder output;
  a pool representation [B, 1, 1, 256] is broadcast to [ENC_HEIGHT, ENC_WIDTH];
  the query pose [B, 7] is broadcast to the same grid.
- training pass (posterior), per step l = 1..L, states start at zero and the
  canvas u at zero [B, IMG_H, IMG_W, LSTM_CANVAS_CHANNELS]:
  inference core (r, pose, h_g, h_e + down(target, u)); (mu_q, sigma_q) =
  eta_q(h_e); z = mu_q + sigma_q eps; generator core (r, pose, z, h_g);
  u += up(h_g); prior statistics (mu_pi, sigma_pi) = eta_pi(h_g).
- generation pass (prior): z = eta_pi(h_g) sampled, generator core, u += up(h_g).
- mu_target = eta_g(u_L). One generator core and one inference core, each
  used at every step (tf-gqn's default, 39,682,563 trainable parameters at
  the default config).

Original bug, corrected by default: in tf-gqn's training pass the prior
statistics of step l are computed from the generator state AFTER step l's
update, i.e. from the state that the generation pass uses for step l + 1, so
the KL compares q_l with the prior of the next step. Here the prior of step l
comes from h_g before the update, the state the generation pass samples z_l
from. ``original_prior_timing=True`` restores tf-gqn's behaviour.

Other options: ``optimized`` (default True) uses the fused cores (see
``draw.py``); ``optimized=False`` is the naive reference with the SAME
variables (weights transfer one to one with ``set_weights``).
``dtype`` (e.g. "mixed_bfloat16") is passed to every sub-layer; without it
the global Keras dtype policy applies. Outputs are float32 in every case.
``share_cores=False`` gives every DRAW step its own generator and inference
core (the "unshared cores" of the GQN paper and of PyTorch ports); eta_pi,
eta_q and eta_g stay shared.
"""
import keras
import tensorflow as tf

from models.gqn.config import GQN_DEFAULT_CONFIG
from models.gqn.canvas import LatentCanvas
from models.gqn.draw import Eta, GeneratorCore, InferenceCore, sample_z
from models.gqn.encoder import broadcast_to_grid, make_encoder, scene_representation


def unpack_query(query):
    """(context frames [B,K,H,W,C], context cameras [B,K,P], query camera [B,P])
    from a Query(context=Context(frames, cameras), query_camera) or plain tuples."""
    context = getattr(query, "context", None)
    query_camera = getattr(query, "query_camera", None)
    if context is None or query_camera is None:
        context, query_camera = query
    frames = getattr(context, "frames", None)
    cameras = getattr(context, "cameras", None)
    if frames is None or cameras is None:
        frames, cameras = context
    return frames, cameras, query_camera


class GQNModel(keras.Model):
    """GQN with ConvDRAW. ``model((query, target))`` runs the training
    (posterior) pass, ``model.generate(query)`` the generation (prior) pass.

    Both return float32 tensors in a dict: "mu_target" [B,H,W,3] and
    "canvases" [L,B,H,W,3] (eta_g of each step's canvas); the posterior pass
    also "posterior_mu", "posterior_sigma", "prior_mu", "prior_sigma", each
    [L,B,ENC_H,ENC_W,Z]. ``noise`` (optional, [L,B,ENC_H,ENC_W,Z] standard
    normals) fixes the reparameterisation noise.
    """

    def __init__(self, cfg=GQN_DEFAULT_CONFIG, optimized=True, share_cores=True,
                 original_prior_timing=False, name="gqn", **kwargs):
        super().__init__(name=name, **kwargs)
        self.cfg = cfg
        self.optimized = optimized
        self.share_cores = share_cores
        self.original_prior_timing = original_prior_timing
        policy = self.dtype_policy
        self.encoder = make_encoder(cfg, dtype=policy)
        n_cores = 1 if share_cores else cfg.SEQ_LENGTH
        self.generator_cores = [GeneratorCore(cfg, name=f"generator_core_{i}", dtype=policy)
                                for i in range(n_cores)]
        self.inference_cores = [InferenceCore(cfg, name=f"inference_core_{i}", dtype=policy)
                                for i in range(n_cores)]
        eta_args = (cfg.Z_CHANNELS, cfg.ETA_INTERNAL_KERNEL_SIZE, cfg.LSTM_OUTPUT_CHANNELS,
                    cfg.ENC_HEIGHT, cfg.ENC_WIDTH)
        self.eta_pi = Eta(*eta_args, name="eta_pi", dtype=policy)
        self.eta_q = Eta(*eta_args, name="eta_q", dtype=policy)
        self.eta_g = keras.layers.Conv2D(cfg.IMG_CHANNELS, cfg.ETA_EXTERNAL_KERNEL_SIZE,
                                         padding="same", name="eta_g", dtype=policy)
        self.eta_g.build((None, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.LSTM_CANVAS_CHANNELS))
        self.built = True

    # ----------------------------------------------------------------- helpers
    def _core(self, cores, step):
        return cores[step % len(cores)]

    def _conditioning(self, query):
        """Representation (vector [B,C] for pool, map [B,h,w,C] for tower) and pose."""
        frames, cameras, query_camera = unpack_query(query)
        dtype = self.compute_dtype
        r = scene_representation(self.encoder, tf.cast(frames, dtype), tf.cast(cameras, dtype))
        if self.cfg.ENC_TYPE == "pool":
            r = r[:, 0, 0, :]
        return r, tf.cast(query_camera, dtype)

    def _grid(self, vector):
        return broadcast_to_grid(vector, self.cfg.ENC_HEIGHT, self.cfg.ENC_WIDTH)

    def _zero_states(self, batch):
        cfg, dtype = self.cfg, self.compute_dtype
        hidden = tf.zeros([batch, cfg.ENC_HEIGHT, cfg.ENC_WIDTH, cfg.LSTM_OUTPUT_CHANNELS], dtype)
        canvas = tf.zeros([batch, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.LSTM_CANVAS_CHANNELS], dtype)
        return hidden, canvas

    def _noise(self, noise, batch):
        cfg = self.cfg
        if noise is None:
            noise = tf.random.normal(
                [cfg.SEQ_LENGTH, batch, cfg.ENC_HEIGHT, cfg.ENC_WIDTH, cfg.Z_CHANNELS])
        return tf.cast(noise, self.compute_dtype)

    def _constant_gates(self, core_lstm, r, pose):
        """Step-invariant gate part (representation, pose, biases) of one core."""
        vectors = {"query_pose": pose}
        maps = {}
        if self.cfg.ENC_TYPE == "pool":
            vectors = {"representation": r, "query_pose": pose}
        else:
            maps = {"representation": r}
        return core_lstm.constant_gates(maps=maps, vectors=vectors, dtype=self.compute_dtype)

    def _outputs(self, images, **stats):
        """Output dict from the per-step canvas images eta_g(u_l) and statistics."""
        images = [tf.cast(image, tf.float32) for image in images]
        out = {"mu_target": images[-1], "canvases": tf.stack(images)}
        for key, values in stats.items():
            out[key] = tf.cast(tf.stack(values), tf.float32)
        return out

    # ------------------------------------------------------------ posterior
    def call(self, inputs, training=False, noise=None):
        """Training pass: ``inputs = (query, target)`` with target [B,H,W,3]."""
        query, target = inputs
        r, pose = self._conditioning(query)
        target = tf.cast(target, self.compute_dtype)
        batch = tf.shape(target)[0]
        eps = self._noise(noise, batch)
        if self.optimized:
            return self._fused_posterior(r, pose, target, batch, eps)
        h_g, canvas = self._zero_states(batch)
        c_g, h_e, c_e = h_g, h_g, h_g
        r_map = self._grid(r) if self.cfg.ENC_TYPE == "pool" else r
        pose_map = self._grid(pose)
        canvases, mu_q, sigma_q, mu_pi, sigma_pi = [], [], [], [], []
        for step in range(self.cfg.SEQ_LENGTH):
            gen = self._core(self.generator_cores, step)
            inf = self._core(self.inference_cores, step)
            if not self.original_prior_timing:
                prior = self.eta_pi(h_g)
            c_e, h_e = inf({"representation": r_map, "query_pose": pose_map,
                            "h_g": h_g, "h_e": h_e}, c_e, target, canvas)
            post = self.eta_q(h_e)
            z = sample_z(*post, eps[step])
            c_g, h_g, canvas = gen({"representation": r_map, "query_pose": pose_map,
                                    "z": z, "h_g": h_g}, c_g, canvas)
            if self.original_prior_timing:
                prior = self.eta_pi(h_g)
            canvases.append(self.eta_g(canvas))
            for values, value in zip((mu_q, sigma_q, mu_pi, sigma_pi), (*post, *prior)):
                values.append(value)
        return self._outputs(canvases, posterior_mu=mu_q, posterior_sigma=sigma_q,
                             prior_mu=mu_pi, prior_sigma=sigma_pi)

    def _fused_posterior(self, r, pose, target, batch, eps):
        """``call`` on the fused cores (see ``draw.py`` and ``canvas.py``).

        At the first step the states and the canvas are zero, so only the
        z (generator) and target (inference, ``first_gates``) terms of the
        gate inputs remain.
        """
        plan = self._fused_plan(r, pose, target)
        canvas = LatentCanvas(self.generator_cores, self.eta_g, self.compute_dtype)
        images, mu_q, sigma_q, mu_pi, sigma_pi = [], [], [], [], []
        for step in range(self.cfg.SEQ_LENGTH):
            core = step % len(plan)
            gen, inf, p = self.generator_cores[core], self.inference_cores[core], plan[core]
            if step == 0:
                if not self.original_prior_timing:
                    prior = self._eta_of_zero(self.eta_pi, batch)
                c_e, h_e = inf.lstm.update(
                    inf.first_gates(target, p["k_inf_first"]) + p["const_inf"], None)
            else:
                if not self.original_prior_timing:
                    prior = self.eta_pi(h_g)
                h_e_in = h_e + p["target_shift"] + canvas.down(inf)
                c_e, h_e = inf.lstm.fused_step([h_g, h_e_in], p["k_inf"], p["const_inf"], c_e)
            post = self.eta_q(h_e)
            z = sample_z(*post, eps[step])
            if step == 0:
                c_g, h_g = gen.lstm.fused_step([z], p["k_gen_first"], p["const_gen"], None)
            else:
                c_g, h_g = gen.lstm.fused_step([z, h_g], p["k_gen"], p["const_gen"], c_g)
            if self.original_prior_timing:
                prior = self.eta_pi(h_g)
            canvas.add(h_g, core)
            images.append(canvas.image)
            for values, value in zip((mu_q, sigma_q, mu_pi, sigma_pi), (*post, *prior)):
                values.append(value)
        return self._outputs(images, posterior_mu=mu_q, posterior_sigma=sigma_q,
                             prior_mu=mu_pi, prior_sigma=sigma_pi)

    def _eta_of_zero(self, eta, batch):
        return eta.of_zero(batch, self.cfg.ENC_HEIGHT, self.cfg.ENC_WIDTH)

    def _fused_plan(self, r, pose, target=None):
        """Per core, what does not change across the DRAW steps, computed once:
        the fused gate kernels of the steps the core runs (only the z / h_e
        kernels at the zero-state first step), the step-invariant gates and,
        with a target, the target's term of the inference input."""
        dtype, steps = self.compute_dtype, self.cfg.SEQ_LENGTH
        plan = []
        for index, (gen, inf) in enumerate(zip(self.generator_cores, self.inference_cores)):
            runs = range(index, steps, len(self.generator_cores))
            first, later = 0 in runs, any(step > 0 for step in runs)
            p = {"const_gen": self._constant_gates(gen.lstm, r, pose)}
            if first:
                p["k_gen_first"] = gen.lstm.fused_kernel(["z"], dtype)
            if later:
                p["k_gen"] = gen.lstm.fused_kernel(["z", "h_g"], dtype)
            if target is not None:
                p["const_inf"] = self._constant_gates(inf.lstm, r, pose)
                if later:
                    p["target_shift"] = inf.first_shift(target)
                if first:
                    p["k_inf_first"] = inf.lstm.fused_kernel(["h_e"], dtype)
                if later:
                    p["k_inf"] = inf.lstm.fused_kernel(["h_g", "h_e"], dtype)
            plan.append(p)
        return plan

    # ----------------------------------------------------------- generation
    def generate(self, query, noise=None):
        """Generation pass from the prior: dict with "mu_target" and "canvases"."""
        r, pose = self._conditioning(query)
        batch = tf.shape(pose)[0]
        eps = self._noise(noise, batch)
        if self.optimized:
            return self._fused_generation(r, pose, batch, eps)
        h_g, canvas = self._zero_states(batch)
        c_g = h_g
        r_map = self._grid(r) if self.cfg.ENC_TYPE == "pool" else r
        pose_map = self._grid(pose)
        canvases = []
        for step in range(self.cfg.SEQ_LENGTH):
            gen = self._core(self.generator_cores, step)
            z = sample_z(*self.eta_pi(h_g), eps[step])
            c_g, h_g, canvas = gen({"representation": r_map, "query_pose": pose_map,
                                    "z": z, "h_g": h_g}, c_g, canvas)
            canvases.append(self.eta_g(canvas))
        return self._outputs(canvases)

    def _fused_generation(self, r, pose, batch, eps):
        """``generate`` on the fused cores."""
        plan = self._fused_plan(r, pose)
        canvas = LatentCanvas(self.generator_cores, self.eta_g, self.compute_dtype)
        images = []
        for step in range(self.cfg.SEQ_LENGTH):
            core = step % len(plan)
            gen, p = self.generator_cores[core], plan[core]
            if step == 0:
                z = sample_z(*self._eta_of_zero(self.eta_pi, batch), eps[step])
                c_g, h_g = gen.lstm.fused_step([z], p["k_gen_first"], p["const_gen"], None)
            else:
                z = sample_z(*self.eta_pi(h_g), eps[step])
                c_g, h_g = gen.lstm.fused_step([z, h_g], p["k_gen"], p["const_gen"], c_g)
            canvas.add(h_g, core)
            images.append(canvas.image)
        return self._outputs(images)
