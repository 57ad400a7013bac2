"""Download DeepMind's GQN datasets, whole or only their first shards.

    python data_provider/download_gqn.py --dataset rooms_ring_camera --root /tmp/data/gqn-dataset \
        [--train_shards 20] [--test_shards 2] [--dry_run]

The files come from the public bucket ``gs://gqn-dataset/<dataset>/{train,test}/``
through ``gsutil -m cp`` (``pip install -r requirements-download.txt``). They
land in ``<root>/<dataset>/{train,test}/`` with their original names, which is
the layout ``gqn_input_fn`` reads. Without ``--train_shards`` /
``--test_shards`` the whole split is copied (the rooms datasets are hundreds
of GB). Shards already present are not fetched again. ``--dry_run`` prints the
gsutil commands instead of running them. Before copying, the bucket's host is
contacted once: without a network the command fails within ``NETWORK_TIMEOUT``
seconds instead of letting gsutil retry for minutes. Exit codes: 0 done, 1 a
gsutil copy failed or the bucket is unreachable, 2 bad input (one line naming
the flag or value).
"""
import os
import shutil
import socket
import subprocess
import sys
import threading

from data_provider import cli, gqn_datasets
from data_provider.progress import Progress

BUCKET = "gs://gqn-dataset"
HOST = ("storage.googleapis.com", 443)  # where gsutil fetches the bucket's objects
NETWORK_TIMEOUT = 20.0  # seconds for name lookup and connection together


def check_network(host=None, timeout=None):
    """Raise ``CommandFailed`` unless a TCP connection to ``host`` (default ``HOST``) opens
    within ``timeout`` seconds (default ``NETWORK_TIMEOUT``), the name lookup included,
    which sockets alone do not bound."""
    host = host or HOST
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    outcome = {}

    def connect():
        try:
            socket.create_connection(host, timeout=timeout).close()
            outcome["ok"] = True
        except OSError as e:
            outcome["error"] = e

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome.get("ok"):
        cause = outcome.get("error") or f"no answer within {timeout:g} s"
        raise cli.CommandFailed(f"cannot reach {host[0]}:{host[1]} ({cause}); "
                                "check the network connection and try again")


def shard_urls(dataset, mode, count=None):
    """Bucket URLs of the first ``count`` shards (all when ``None``) of a split."""
    total = gqn_datasets.num_shards(dataset, mode)
    count = total if count is None else count
    if not 0 <= count <= total:
        raise cli.UsageError(f"--{mode}_shards {count}: {dataset}/{mode} has {total} shards")
    base = (f"{BUCKET}/{gqn_datasets.dataset_info(dataset).basepath}/"
            f"{gqn_datasets.canonical_mode(mode)}")
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
    p = cli.ArgumentParser(prog="download_gqn.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, choices=sorted(gqn_datasets.DATASETS),
                   help="which dataset")
    p.add_argument("--root", required=True, help="data root (the --data_dir of train_gqn_draw.py)")
    p.add_argument("--train_shards", type=int, default=None, help="first N train shards [all]")
    p.add_argument("--test_shards", type=int, default=None, help="first N test shards [all]")
    p.add_argument("--dry_run", action="store_true", help="print the gsutil commands only")
    return p


def run(args):
    commands = download_commands(args.dataset, args.root, args.train_shards, args.test_shards)
    if not commands:
        print("all requested shards are already present")
        return
    if args.dry_run:
        for _, argv in commands:
            print(" ".join(argv))
        return
    if shutil.which("gsutil") is None:
        raise cli.UsageError("gsutil not found; install it with "
                             "'pip install -r requirements-download.txt'")
    check_network()
    total = sum(len(argv) - 4 for _, argv in commands)
    progress = Progress("download_gqn", total, "shards", every=0)
    done = 0
    for dest, argv in commands:
        os.makedirs(dest, exist_ok=True)
        print(f"fetching {len(argv) - 4} shards into {dest}", flush=True)
        subprocess.run(argv, check=True)
        done += len(argv) - 4
        progress.update(done, dest)


def main(argv=None):
    """Command line: returns the exit code (0 done, 1 a copy failed, 2 bad input)."""
    return cli.run_main("download_gqn.py", run, build_parser().parse_args(argv),
                        failure_types=(subprocess.CalledProcessError,))


if __name__ == "__main__":
    sys.exit(main())
