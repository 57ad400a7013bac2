#!/usr/bin/env bash
# Rebuild the pictures shown in README.md from scratch with the project's own tools.
#   bash docs/make_pictures.sh [WORK_DIR]      (about 10 minutes on 2 CPU cores)
# Scratch data, checkpoints and evaluation outputs go to WORK_DIR (default /tmp/gen3d-pictures);
# only the final pictures are copied into docs/images/.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/gen3d-pictures}
PY=${PY:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=2
OUT=docs/images
mkdir -p "$W" "$OUT"

# 1. A real scene: SSCNet ground truth of NYU scene 1, converted to the 80x48x80 layout.
$PY data_provider/sscnet_to_voxels.py ../shared/data/sscnet/NYU0001_0000.bin --out "$W/real/voxels" --overwrite
$PY -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[None])" \
    "$W/real/voxels/NYU0001/0000.npy" "$W/real/nyu.npy"
$PY visualization/voxviz.py "$W/real/nyu.npy" -i 1 -sc "$W/real/nyu_iso"
cp "$W/real/nyu_iso.png" "$OUT/nyu0001_voxels.png"

# 2. FCR-alphaGAN workflow at a small config: synthetic rooms, 900 iterations, evaluation, montage.
SMALL=(--set CONST.N_VOX [32,16,32] NET.START_VOX [2,1,2] NET.DIM [64,32,16,16,12] CONST.BATCH_SIZE 8 CHECK_FREQ 50)
[ -d "$W/rooms" ] || $PY data_provider/render_voxel_scenes.py --root "$W/rooms" --num_scenes 60 --seed 0 --size 32 16 32
[ -f "$W/ck/ckpt-18.index" ] || $PY training/train_fcr_alphagan.py --voxel_root "$W/rooms" --checkpoint_dir "$W/ck" \
    --max_iterations 900 --epoch 1000 --seed 0 "${SMALL[@]}"
$PY evaluation/run.py --mode evaluate_recons --conf_epoch 18 --checkpoint_dir "$W/ck" --voxel_root "$W/rooms" \
    --eval_dir "$W/eval" --num_scenes 8 --batch_size 8 --seed 0
$PY visualization/montage.py "$W/eval" -n 3 -o "$OUT/fcr_montage.png"

# 3. GQN: the quick-start job (rendered rooms_ring_camera stand-in, 3 minutes of training, novel views).
$PY training/quickstart.py --demo_dir "$W/demo" --minutes 3 --num_train 100 --num_test 10
$PY -c "from PIL import Image; import sys; im = Image.open(sys.argv[1]); im.resize((im.width * 3, im.height * 3), Image.NEAREST).save(sys.argv[2])" \
    "$W/demo/views/views.png" "$OUT/gqn_demo_views.png"
echo "pictures in $OUT"
