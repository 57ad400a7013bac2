#!/usr/bin/env bash
# Reproduces every picture in docs/images/ from scratch with the project's own tools.
#
#   bash docs/make_pictures.sh [WORK_DIR]   # a new or empty folder for data, checkpoints, eval
#                                         # (default: a fresh /tmp/gen3d-pictures.XXXX)
#
# About 13 minutes on 2 CPU cores: FCR-alphaGAN trains 400 iterations at 32x16x32 (about 3 min
# for the 300 auto-encoding GAN iterations, 3-5 min for the 100 refiner iterations), evaluation
# and pictures take under a minute, the GQN demo trains 3 minutes. Only the final pictures are copied into docs/images/.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="$REPO/.venv/bin/python"
WORK="${1:-$(mktemp -d /tmp/gen3d-pictures.XXXX)}"
OUT="$REPO/docs/images"
export TF_CPP_MIN_LOG_LEVEL=2
if [ -e "$WORK" ] && [ -n "$(ls -A "$WORK")" ]; then
  echo "make_pictures.sh: WORK_DIR $WORK is not empty; give a new or empty folder" >&2; exit 2
fi
mkdir -p "$WORK" "$OUT"
cd "$WORK"

# Small helpers: crop the white margin of a rendered picture; a strip of GQN views.
cat > crop.py <<'EOF'
"""Crop the white margin around rendered pictures (keeps an 8-pixel border)."""
import sys
from PIL import Image, ImageChops

for path in sys.argv[1:]:
    im = Image.open(path).convert("RGB")
    box = ImageChops.difference(im, Image.new("RGB", im.size, "white")).getbbox()
    if box:
        m = 8
        im = im.crop((max(box[0] - m, 0), max(box[1] - m, 0),
                      min(box[2] + m, im.width), min(box[3] + m, im.height)))
    im.save(path, optimize=True)
    print(f"cropped {path} to {im.size}")
EOF
cat > strip.py <<'EOF'
"""Strip of N evenly spaced views of one scene of a GQN tfrecord file, 2x upscaled."""
import io
import sys

import tensorflow as tf
from PIL import Image

path, out, scene, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
raw = next(iter(tf.data.TFRecordDataset(path).skip(scene).take(1))).numpy()
jpegs = tf.train.Example.FromString(raw).features.feature["frames"].bytes_list.value
step = max(1, len(jpegs) // n)
views = [Image.open(io.BytesIO(jpegs[i])).convert("RGB") for i in range(0, step * n, step)]
w, h = views[0].size
strip = Image.new("RGB", (n * (2 * w + 4) - 4, 2 * h), "white")
for k, v in enumerate(views):
    strip.paste(v.resize((2 * w, 2 * h), Image.NEAREST), (k * (2 * w + 4), 0))
strip.save(out, optimize=True)
print(f"wrote {out}: {len(views)} of {len(jpegs)} views of scene {scene}")
EOF

cat > enlarge.py <<'EOF'
"""Enlarge a small picture or animated GIF by an integer factor (nearest neighbour)."""
import sys
from PIL import Image, ImageSequence

src, dst, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
im = Image.open(src)
frames = [f.convert("RGB").resize((im.width * k, im.height * k), Image.NEAREST)
          for f in ImageSequence.Iterator(im)]
if len(frames) > 1:
    frames[0].save(dst, save_all=True, append_images=frames[1:], loop=0,
                   duration=im.info.get("duration", 100), optimize=True)
else:
    frames[0].save(dst, optimize=True)
print(f"wrote {dst}: {len(frames)} frame(s) of {frames[0].size}")
EOF

# 1. FCR-alphaGAN on synthetic rooms at 32x16x32 (CPU). SWITCHING_ITE 301: the last
#    100 iterations train the refiner, so the checkpoint holds all networks.
"$PY" "$REPO/data_provider/render_voxel_scenes.py" --root rooms --num_scenes 60 --seed 0 --size 32 16 32
time "$PY" "$REPO/training/train_fcr_alphagan.py" --voxel_root rooms --checkpoint_dir ck \
    --epoch 100 --max_iterations 400 --seed 0 --log_steps 50 \
    --set CONST.N_VOX [32,16,32] NET.START_VOX [2,1,2] NET.DIM [64,32,16,16,12] \
          CONST.BATCH_SIZE 8 CHECK_FREQ 50 SWITCHING_ITE 301
EVAL=("$PY" "$REPO/evaluation/run.py" --checkpoint_dir ck --voxel_root rooms --eval_dir eval \
      --conf_epoch 8 --seed 0)
time "${EVAL[@]}" --mode evaluate_recons --num_scenes 3
time "${EVAL[@]}" --mode evaluate_interpolate --pairs 1
time "${EVAL[@]}" --mode evaluate_noise --bases 1
"$PY" "$REPO/visualization/montage.py" eval -n 3 --size 200 -o "$OUT/fcr_montage.png"
"$PY" enlarge.py eval/change_map0.png "$OUT/fcr_change_map.png" 4
"$PY" "$REPO/visualization/animate.py" eval/interpolation0-1.npy -o "$OUT/fcr_interpolation.gif" \
    --size 200 --duration 100

# 2. A real scene: SSCNet ground truth NYU0001_0000 reduced to 80x48x80 and 12 classes.
"$PY" "$REPO/data_provider/sscnet_to_voxels.py" /work/shared/data/sscnet/NYU0001_0000.bin --out real/voxels
"$PY" "$REPO/visualization/voxviz.py" real/voxels/NYU0001/0000.npy --view original --size 1400 \
    -sc "$OUT/nyu0001_voxels"
# top view without the ceiling (class 1), which would hide the room
"$PY" -c "import numpy as np; v = np.load('real/voxels/NYU0001/0000.npy'); v[v == 1] = 0; np.save('real/no_ceiling.npy', v)"
"$PY" "$REPO/visualization/voxviz.py" real/no_ceiling.npy --view top --size 1400 -sc "$OUT/nyu0001_top"
"$PY" crop.py "$OUT/nyu0001_voxels.png" "$OUT/nyu0001_top.png"

# 3. GQN: rendered rooms_ring_camera stand-in, and the 3-minute demo's novel views.
"$PY" "$REPO/data_provider/render_dataset.py" --dataset rooms_ring_camera --root gqn \
    --num_train 40 --num_test 8 --seed 0
"$PY" strip.py gqn/rooms_ring_camera/test/001-of-240.tfrecord "$OUT/gqn_rooms_views.png" 0 5
time bash "$REPO/run.sh" demo --minutes 3 --demo_dir "$WORK/demo"
"$PY" enlarge.py demo/views/views.png "$OUT/gqn_demo_views.png" 3

ls -la "$OUT"
