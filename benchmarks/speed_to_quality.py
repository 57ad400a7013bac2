"""Minutes of training to reach the quality targets, for GQN and FCR-alphaGAN (CPU configs).

    python benchmarks/speed_to_quality.py gqn [--work DIR] [--chunk 1500] [--max_steps 12000]
    python benchmarks/speed_to_quality.py fcr [--work DIR] [--chunk 400] [--max_iterations 4000]

Trains the configuration of ``docs/make_pictures.sh`` / ``bash run.sh demo`` in chunks (each
chunk resumes the previous checkpoint), evaluates after every chunk and prints one row per
chunk, then the minutes of training at the first chunk that meets each target (an upper
bound at chunk granularity). Training time is the wall time of each training process minus
its start-up (a build-only run of the same command, measured once), so evaluation does not
count; the load average is printed beside, because the machine may be shared.

Targets:

* GQN (``rooms_ring_camera`` stand-in, 2000 train / 200 test scenes, 32x32): on the 200 test
  scenes, mean L2 of the generated view (``evaluation/gqn_baselines.py``) at least 40 %
  below the mean-training-image baseline and at or below the nearest-context-view
  baseline.
* FCR-alphaGAN (4000 synthetic rooms at 32x16x32, 200 test rooms): IoU (Jaccard, the
  usual definition) "all" (classes 1..11) >= 0.5 and ceiling, floor, wall >= 0.8 each,
  first for the auto-encoding GAN's reconstructions, then, after the switch, for the
  refined ones; the refiner phase runs ``--refiner_chunk`` iterations at a time.

A later change that slows learning (per step or per second) shows up as more minutes.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
GQN_DATASET = "rooms_ring_camera"
GQN_FLAGS = ["--img_size", "32", "--context_size", "3", "--seq_length", "4", "--batch_size", "8",
             "--samples_per_scene", "4", "--train_epochs", "100000", "--log_steps", "500",
             "--chkpt_steps", "100000", "--seed", "0",
             "--set", "LSTM_OUTPUT_CHANNELS", "32", "LSTM_CANVAS_CHANNELS", "32",
             "Z_CHANNELS", "16", "ENC_CHANNELS", "64", "GENERATOR_SIGMA_BETA", "2.0"]
FCR_SET = ["CONST.N_VOX", "[32,16,32]", "NET.START_VOX", "[2,1,2]", "NET.DIM", "[64,32,16,16,12]",
           "NET.REFINE_CH", "8", "CONST.BATCH_SIZE", "8", "CHECK_FREQ", "100",
           "LEARNING_RATE_G", "0.001", "LEARNING_RATE_V", "[0.001,100000000,0.001]"]
FCR_FLAGS = ["--bn_moving_averages"]
FCR_ROWS = {"all": 12, "ceiling": 1, "floor": 2, "wall": 3}


def _run(cmd, log_path):
    """Run ``cmd`` (output to ``log_path``); returns its wall seconds; raises on failure."""
    start = time.monotonic()
    with open(log_path, "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                              env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                                  [REPO] + [p for p in [os.environ.get("PYTHONPATH")] if p])))
    if done.returncode:
        raise SystemExit(f"speed_to_quality.py: failed ({done.returncode}): {' '.join(cmd)}; "
                         f"see {log_path}")
    return time.monotonic() - start


def _load():
    return "{:.1f}".format(os.getloadavg()[0])


def gqn(args):
    data, model = os.path.join(args.work, "gqn_data"), os.path.join(args.work, "gqn_model")
    if not os.path.isdir(data):
        _run([PY, "data_provider/render_dataset.py", "--dataset", GQN_DATASET, "--root", data,
              "--num_train", "2000", "--num_test", "200", "--seed", "0"],
             os.path.join(args.work, "render.log"))
    train = [PY, "training/train_gqn_draw.py", "--data_dir", data, "--dataset", GQN_DATASET,
             "--model_dir", model] + GQN_FLAGS
    startup = _run(train + ["--max_steps", "0"], os.path.join(args.work, "startup.log"))
    print(f"GQN {GQN_DATASET}: start-up {startup:.1f} s (not counted)")
    print(f"{'steps':>6} {'minutes':>8} {'steps/s':>8} {'load':>5} {'l2_gen':>8} {'l2_mean':>8} "
          f"{'l2_near':>8} {'elbo':>8}")
    seconds, reached = 0.0, None
    for steps in range(args.chunk, args.max_steps + 1, args.chunk):
        wall = _run(train + ["--max_steps", str(steps)],
                    os.path.join(args.work, f"train{steps}.log"))
        seconds += max(wall - startup, 1e-3)
        load = _load()
        out = os.path.join(args.work, f"l2_{steps}.json")
        _run([PY, "evaluation/gqn_baselines.py", "--model_dir", model, "--data_dir", data,
              "--dataset", GQN_DATASET, "--num_scenes", "200", "--out", out],
             os.path.join(args.work, f"eval{steps}.log"))
        with open(out) as f:
            r = json.load(f)
        print(f"{steps:6d} {seconds / 60:8.2f} {steps / seconds:8.2f} {load:>5} "
              f"{r['l2_generated']:8.5f} {r['l2_mean_image']:8.5f} {r['l2_nearest_context']:8.5f} "
              f"{r['elbo']:8.1f}", flush=True)
        if (reached is None and r["l2_generated"] <= 0.6 * r["l2_mean_image"]
                and r["l2_generated"] <= r["l2_nearest_context"]):
            reached = (steps, seconds)
            if not args.keep_going:
                break
    if reached:
        print(f"GQN target reached after {reached[0]} steps, "
              f"{reached[1] / 60:.1f} minutes of training")
    else:
        print(f"GQN target not reached in {args.max_steps} steps ({seconds / 60:.1f} minutes)")


def _fcr_eval(args, ckpt_dir, rooms, iteration, suffix):
    out = os.path.join(args.work, f"eval_{iteration}")
    _run([PY, "evaluation/run.py", "--mode", "evaluate_recons", "--checkpoint_dir", ckpt_dir,
          "--voxel_root", rooms, "--eval_dir", out, "--conf_epoch", str(iteration // 100),
          "--seed", "0", "--num_scenes", "200"], out + ".log")
    with open(os.path.join(out, "metrics.json")) as f:
        rows = json.load(f)["Jaccard" + suffix]
    return {name: rows[i] for name, i in FCR_ROWS.items()}


def _fcr_met(iou):
    return {"all": iou["all"] >= 0.5, **{k: iou[k] >= 0.8 for k in ("ceiling", "floor", "wall")}}


def fcr(args):
    rooms, ckpt = os.path.join(args.work, "rooms"), os.path.join(args.work, "fcr")
    if not os.path.isdir(rooms):
        _run([PY, "data_provider/render_voxel_scenes.py", "--root", rooms, "--num_scenes", "4000",
              "--seed", "0", "--size", "32", "16", "32"], os.path.join(args.work, "render.log"))
    base = [PY, "training/train_fcr_alphagan.py", "--voxel_root", rooms, "--checkpoint_dir", ckpt,
            "--seed", "0", "--log_steps", "1000"] + FCR_FLAGS
    startup = _run(base + ["--max_iterations", "0", "--set"] + FCR_SET,
                   os.path.join(args.work, "startup.log"))
    print(f"FCR-alphaGAN 32x16x32: start-up {startup:.1f} s (not counted)")
    print(f"{'phase':>8} {'iter':>6} {'minutes':>8} {'it/s':>6} {'load':>5} {'all':>6} "
          f"{'ceiling':>7} {'floor':>6} {'wall':>6}")
    seconds, first, iteration = 0.0, {}, 0

    def chunk(phase, until, switch):
        nonlocal seconds, iteration
        cmd = (base + ["--max_iterations", str(until), "--set"] + FCR_SET
               + ["SWITCHING_ITE", str(switch)])
        if iteration:
            cmd.append("--middle_start")
        wall = _run(cmd, os.path.join(args.work, f"train{until}.log"))
        seconds += max(wall - startup, 1e-3)
        load = _load()
        rate = (until - iteration) / max(wall - startup, 1e-3)
        iteration = until
        iou = _fcr_eval(args, ckpt, rooms, until, "" if phase == "gan" else "_refine")
        print(f"{phase:>8} {until:6d} {seconds / 60:8.2f} {rate:6.2f} {load:>5} {iou['all']:6.3f} "
              f"{iou['ceiling']:7.3f} {iou['floor']:6.3f} {iou['wall']:6.3f}", flush=True)
        for key, ok in _fcr_met(iou).items():
            if ok and (phase, key) not in first:
                first[(phase, key)] = (until, seconds)
        return iou

    while iteration < args.max_iterations:
        met = _fcr_met(chunk("gan", iteration + args.chunk, 10 ** 8))
        if met["all"] and met["ceiling"] and met["floor"] and (met["wall"] or not args.keep_going):
            break
    switch = iteration + 1
    while iteration < switch - 1 + args.max_refiner:
        met = _fcr_met(chunk("refiner", iteration + args.refiner_chunk, switch))
        if all(met.values()) or (met["all"] and met["ceiling"] and met["floor"]):
            break
    for phase in ("gan", "refiner"):
        for key, target in (("all", 0.5), ("ceiling", 0.8), ("floor", 0.8), ("wall", 0.8)):
            hit = first.get((phase, key))
            text = (f"iteration {hit[0]}, {hit[1] / 60:.1f} minutes" if hit
                    else f"not reached in {iteration} iterations ({seconds / 60:.1f} minutes)")
            print(f"FCR {phase} IoU {key} >= {target}: {text}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("system", choices=("gqn", "fcr"))
    p.add_argument("--work", default=None, help="scratch folder (default: a new temporary one)")
    p.add_argument("--chunk", type=int, default=None,
                   help="steps (GQN, default 1500) or GAN iterations (FCR, default 400) per chunk")
    p.add_argument("--max_steps", type=int, default=12000, help="GQN: stop here")
    p.add_argument("--max_iterations", type=int, default=4000, help="FCR: last GAN iteration")
    p.add_argument("--refiner_chunk", type=int, default=100,
                   help="FCR: refiner iterations per chunk")
    p.add_argument("--max_refiner", type=int, default=400, help="FCR: refiner iterations at most")
    p.add_argument("--keep_going", action="store_true",
                   help="GQN: train to --max_steps after the target; FCR: keep training the GAN "
                        "until the wall target too")
    args = p.parse_args(argv)
    args.work = args.work or tempfile.mkdtemp(prefix="speed_to_quality.")
    os.makedirs(args.work, exist_ok=True)
    args.chunk = args.chunk or (1500 if args.system == "gqn" else 400)
    print(f"work folder {args.work}; {os.cpu_count()} CPUs; load {_load()}")
    (gqn if args.system == "gqn" else fcr)(args)


if __name__ == "__main__":
    main()
