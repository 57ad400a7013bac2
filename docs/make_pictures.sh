#!/usr/bin/env bash
# Rebuilds every picture in README (docs/images/) from fresh training runs, and measures them.
#
#   bash docs/make_pictures.sh [OUT_DIR] [--minutes M]
#
# OUT_DIR (default: a fresh /tmp/gen3d-pictures.XXXX) receives the data, checkpoints,
# evaluation outputs and summary.json with the measured figures:
#   gqn.l2_generated, gqn.l2_mean_image, gqn.l2_nearest_context, gqn.minutes, gqn.steps,
#   fcr.iou_all, fcr.iou_ceiling, fcr.iou_floor, fcr.iou_wall (Jaccard |P&T| / |P|T| of the
#   refined reconstructions of the test rooms), fcr.iou_original_* (the original's
#   |P&T| / (|P| + |T|), at most 0.5), fcr.iou_unrefined_* (before the refiner), fcr.minutes,
#   fcr.iterations; air.* (the AIR 3D canonical run's metrics and minutes).
# --minutes M (default 10) is the training time of each system: FCR-alphaGAN trains its
# auto-encoding GAN for 70 % of it and its refiner for the rest, GQN trains for all of it.
# On a GPU give it more (e.g. --minutes 30): the same commands train further.
# GEN trains for 2 M on the real mazes shards of ../shared/data when they are present.
# AIR 3D runs its canonical command (about 13 minutes with its evaluation).
# Total time is about 4 M + 14 minutes on two CPU cores (rendering, evaluation, pictures).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
MINUTES=10
WORK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) MINUTES="${2:?--minutes needs a value}"; shift 2 ;;
    --minutes=*) MINUTES="${1#*=}"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "make_pictures.sh: error: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$WORK" ] || { echo "make_pictures.sh: error: one OUT_DIR only" >&2; exit 2; }
       WORK="$1"; shift ;;
  esac
done
if ! "$PY" -c "import sys; m = float(sys.argv[1]); sys.exit(0 if m > 0 else 1)" "$MINUTES" 2>/dev/null; then
  echo "make_pictures.sh: error: --minutes must be a positive number, got $MINUTES" >&2; exit 2
fi
[ -x "$PY" ] || bash "$REPO/run.sh" setup
WORK="${WORK:-$(mktemp -d /tmp/gen3d-pictures.XXXX)}"
if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK")" ]; then
  echo "make_pictures.sh: error: OUT_DIR $WORK is not empty; give a new or empty folder" >&2; exit 2
fi
IMAGES="$REPO/docs/images"
mkdir -p "$WORK" "$IMAGES"
WORK="$(cd "$WORK" && pwd)"
cd "$WORK"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"   # this checkout's packages first
seconds() { "$PY" -c "import sys; print(round(float(sys.argv[1]) * 60 * float(sys.argv[2]), 1))" "$MINUTES" "$1"; }
T0=$(date +%s)

# ---------------------------------------------------------------- FCR-alphaGAN, 32x16x32 rooms
# Sizes and rates for a CPU budget (architecture, losses and two-phase schedule unchanged);
# batch normalisation with moving averages at inference (measured: Jaccard all 0.59 against 0.52).
FCR_SET=(CONST.N_VOX [32,16,32] NET.START_VOX [2,1,2] NET.DIM [64,32,16,16,12] NET.REFINE_CH 8
         CONST.BATCH_SIZE 8 CHECK_FREQ 100 LEARNING_RATE_G 0.001)
"$PY" "$REPO/data_provider/render_voxel_scenes.py" --root rooms --num_scenes 4000 --seed 0 --size 32 16 32
FCR=("$PY" "$REPO/training/train_fcr_alphagan.py" --voxel_root rooms --checkpoint_dir fcr --seed 0
     --log_steps 100 --bn_moving_averages)
# phase 1 (auto-encoding GAN): 70 % of the budget, the switch is set past its end
"${FCR[@]}" --max_seconds "$(seconds 0.7)" \
    --set "${FCR_SET[@]}" SWITCHING_ITE 100000000 LEARNING_RATE_V [0.001,100000000,0.001] | tee fcr1.log
SWITCH=$(( $(sed -n 's/^finished at iteration \([0-9]*\).*/\1/p' fcr1.log) + 1 ))
# phase 2 (refiner): the rest, from the next iteration on
"${FCR[@]}" --middle_start --max_seconds "$(seconds 0.3)" \
    --set "${FCR_SET[@]}" SWITCHING_ITE "$SWITCH" LEARNING_RATE_V [0.001,100000000,0.001] | tee fcr2.log
ITER=$(sed -n 's/^finished at iteration \([0-9]*\).*/\1/p' fcr2.log)
CKPT=$(( ITER / 100 ))
EVAL=("$PY" "$REPO/evaluation/run.py" --checkpoint_dir fcr --voxel_root rooms --eval_dir eval
      --conf_epoch "$CKPT" --seed 0)
"${EVAL[@]}" --mode evaluate_recons --num_scenes 200
"${EVAL[@]}" --mode evaluate_interpolate --pairs 1
"${EVAL[@]}" --mode evaluate_noise --bases 1
"$PY" "$REPO/visualization/montage.py" eval -n 4 --size 200 -o "$IMAGES/fcr_montage.png"
"$PY" "$REPO/docs/picture_tools.py" enlarge eval/change_map0.png "$IMAGES/fcr_change_map.png" 4
"$PY" "$REPO/visualization/animate.py" eval/interpolation0-1.npy -o "$IMAGES/fcr_interpolation.gif" \
    --size 200 --duration 100
T1=$(date +%s)

# ---------------------------------------------------------------- a real scene (SSCNet ground truth)
NYU="$REPO/../shared/data/sscnet/NYU0001_0000.bin"
if [ -f "$NYU" ]; then
  "$PY" "$REPO/data_provider/sscnet_to_voxels.py" "$NYU" --out real/voxels
  "$PY" "$REPO/visualization/voxviz.py" real/voxels/NYU0001/0000.npy --view original --size 1400 \
      -sc "$IMAGES/nyu0001_voxels"
  # top view without the ceiling (class 1), which would hide the room
  "$PY" -c "import numpy as np; v = np.load('real/voxels/NYU0001/0000.npy'); v[v == 1] = 0; np.save('real/no_ceiling.npy', v)"
  "$PY" "$REPO/visualization/voxviz.py" real/no_ceiling.npy --view top --size 1400 -sc "$IMAGES/nyu0001_top"
  "$PY" "$REPO/docs/picture_tools.py" crop "$IMAGES/nyu0001_voxels.png" "$IMAGES/nyu0001_top.png"
else
  echo "[pictures] $NYU not found: the NYU0001 pictures are left as they are"
fi

# ---------------------------------------------------------------- GQN, the demo's configuration
GQN_DATASET=$("$PY" -c "from apps import quickstart; print(quickstart.DATASET)")
"$PY" "$REPO/apps/quickstart.py" --demo_dir demo --minutes "$MINUTES" | tee gqn.log
"$PY" "$REPO/evaluation/gqn_baselines.py" --model_dir demo/model --data_dir demo/data \
    --dataset "$GQN_DATASET" --num_scenes 200 --out gqn_l2.json
"$PY" "$REPO/docs/picture_tools.py" strip demo/data/"$GQN_DATASET"/test/001-of-*.tfrecord \
    "$IMAGES/gqn_rooms_views.png" 0 5
cp demo/views/views.png "$IMAGES/gqn_demo_views.png"
T2=$(date +%s)

# ---------------------------------------------------------------- GEN, real mazes
# A small config (32-channel cores, L = 4; sigma annealed over 3,000 steps instead of 2e5)
# trained for 2 M on the 20 train mazes, then the tour of a 3x3 hotel of test mazes.
MAZES="$REPO/../shared/data/gqn-dataset"
if [ -d "$MAZES/mazes/train" ]; then
  "$PY" "$REPO/training/train_gen.py" --data_dir "$MAZES" --root_log_dir gen --log_dir run \
      --batch_size 2 --max_seconds "$(seconds 2)" --layers 4 --seed 0 \
      --min_test_structure_dim 1 --max_test_structure_dim 1 --eval_interval 1000 \
      --log_steps 50 --image_steps 1000 \
      --set hidden_channels 32 canvas_channels 32 upsample_channels 64 embedding_channels 62 \
            embedder_channels 64 mlp_units 128 message_channels 64 sigma_tau 3000 | tee gen.log
  "$PY" "$REPO/evaluation/gen_views.py" --model_dir gen/run --data_dir "$MAZES" --out gen/views \
      --hotel_dim 3 --spots 1 --headings 6
  "$PY" -c "
from PIL import Image, ImageSequence
frames = [f.convert('RGB') for f in ImageSequence.Iterator(Image.open('gen/views/gen_views.gif'))][:3]
column = Image.new('RGB', (frames[0].width, 3 * (frames[0].height + 4) - 4), 'white')
for i, f in enumerate(frames):
    column.paste(f, (0, i * (f.height + 4)))
column.save('$IMAGES/gen_tour.png', optimize=True)"
else
  echo "[pictures] $MAZES/mazes not found: the GEN picture is left as it is"
fi

# ---------------------------------------------------------------- AIR 3D, the canonical command
# (its 80 epochs take about 10 minutes on two cores; --minutes does not change them)
"$PY" "$REPO/training/train_air.py" --seed 0 --image-size 64 --max-primitives 3 --n-epochs 80 \
    --n-train 3000 --n-test 500 --weight-decay 1e-3 --out air | tee air.log
"$PY" "$REPO/visualization/air_pictures.py" --run air --out air/pictures
cp air/pictures/air_*.png air/pictures/air_training.gif "$IMAGES/"
# the same with the perspective camera, then with cameras that vary (about 13 minutes each)
"$PY" "$REPO/training/train_air.py" --seed 0 --image-size 64 --max-primitives 3 --n-epochs 80 \
    --n-train 3000 --n-test 500 --weight-decay 1e-3 --camera perspective --out air_persp \
    | tee air_persp.log
"$PY" "$REPO/training/train_air.py" --seed 0 --image-size 64 --max-primitives 3 --n-epochs 80 \
    --n-train 3000 --n-test 500 --weight-decay 1e-3 --camera perspective \
    --camera-range 0 360 15 60 --out air_cameras | tee air_cameras.log
for run in air_persp air_cameras; do
  "$PY" "$REPO/visualization/air_pictures.py" --run "$run" --out "$run/pictures"
done
cp air_persp/pictures/air_predictions.png "$IMAGES/air_predictions_perspective.png"
cp air_cameras/pictures/air_predictions.png "$IMAGES/air_predictions_cameras.png"
"$PY" "$REPO/docs/picture_tools.py" beside "$IMAGES/air_depth.png" air/pictures/air_depth.png \
    air_persp/pictures/air_depth.png air_cameras/pictures/air_depth.png
T3=$(date +%s)

"$PY" "$REPO/docs/picture_tools.py" summary --fcr_eval eval --fcr1_log fcr1.log --fcr2_log fcr2.log \
    --gqn_l2 gqn_l2.json --gqn_log gqn.log --minutes "$MINUTES" --air_results air/results.json \
    --out summary.json
echo "[pictures] load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo "[pictures] FCR-alphaGAN part $(( (T1 - T0) / 60 )) min, GQN part $(( (T2 - T1) / 60 )) min, AIR part $(( (T3 - T2) / 60 )) min (GEN between), total $(( ($(date +%s) - T0) / 60 )) min"
echo "[pictures] summary: $WORK/summary.json; pictures: $IMAGES"
