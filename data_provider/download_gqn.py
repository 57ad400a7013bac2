"""Download DeepMind's GQN datasets, whole or only their first shards.

    python data_provider/download_gqn.py --dataset rooms_ring_camera --root /tmp/data/gqn-dataset \
        [--train_shards 20] [--test_shards 2] [--dry_run]

The files come from the public bucket ``gs://gqn-dataset/<dataset>/{train,test}/``
through ``gsutil -m cp`` (``pip install -r requirements-download.txt``). They
land in ``<root>/<dataset>/{train,test}/`` with their original names, which is
the layout ``gqn_input_fn`` reads. Without ``--train_shards`` /
``--test_shards`` the whole split is copied (the rooms datasets are hundreds
of GB). Shards already present are not fetched again. ``--dry_run`` prints the
gsutil commands instead of running them.
"""
import argparse
import os
import shutil
import subprocess
import sys

from data_provider import gqn_datasets

BUCKET = "gs://gqn-dataset"


def shard_urls(dataset, mode, count=None):
    """Bucket URLs of the first ``count`` shards (all when ``None``) of a split."""
    total = gqn_datasets.num_shards(dataset, mode)
    count = total if count is None else count
    if not 0 <= count <= total:
        raise ValueError(f"{dataset}/{mode} has {total} shards; cannot fetch {count}")
    base = f"{BUCKET}/{gqn_datasets.dataset_info(dataset).basepath}/{gqn_datasets.canonical_mode(mode)}"
    return [f"{base}/{gqn_datasets.shard_name(i, total)}" for i in range(1, count + 1)]


def download_commands(dataset, root, train_shards=None, test_shards=None):
    """``[(destination_dir, [gsutil argv...]), ...]`` for the shards not yet on disk."""
    commands = []
    for mode, count in (("train", train_shards), ("test", test_shards)):
        dest = gqn_datasets.split_dir(root, dataset, mode)
        missing = [u for u in shard_urls(dataset, mode, count)
                   if not os.path.exists(os.path.join(dest, u.rsplit("/", 1)[1]))]
        if missing:
            commands.append((dest, ["gsutil", "-m", "cp", *missing, dest + os.sep]))
    return commands


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="one of: " + ", ".join(sorted(gqn_datasets.DATASETS)))
    p.add_argument("--root", required=True, help="data root (the --data_dir of train_gqn_draw.py)")
    p.add_argument("--train_shards", type=int, default=None, help="first N train shards [all]")
    p.add_argument("--test_shards", type=int, default=None, help="first N test shards [all]")
    p.add_argument("--dry_run", action="store_true", help="print the gsutil commands only")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        commands = download_commands(args.dataset, args.root, args.train_shards, args.test_shards)
    except ValueError as err:
        print(f"download_gqn.py: error: {err}", file=sys.stderr)
        return 2
    if not commands:
        print("all requested shards are already present")
        return 0
    if not args.dry_run and shutil.which("gsutil") is None:
        print("download_gqn.py: error: gsutil not found; install it with "
              "'pip install -r requirements-download.txt'", file=sys.stderr)
        return 2
    for dest, argv_ in commands:
        if args.dry_run:
            print(" ".join(argv_))
            continue
        os.makedirs(dest, exist_ok=True)
        print(f"fetching {len(argv_) - 4} shards into {dest}", flush=True)
        subprocess.run(argv_, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
