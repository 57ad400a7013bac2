"""Run one benchmark on an earlier revision and on the working tree, alternately, in one run.

    python benchmarks/compare_revisions.py BASE_REV [--rounds 3] -- \\
        benchmarks/gqn_train_step.py --configs b --paths optimized --variants bf16

The base revision is checked out into a temporary git worktree; each round
runs the benchmark there and here (the order alternates between rounds, so a
change of machine load hits both sides alike), each in a fresh process with
the same Python. Rows of the benchmark's table are matched by their first
``--key-columns`` fields and compared on field ``--value-column`` (1-based;
by default the s/step of ``gqn_train_step.py``): the median over rounds of
each side and their ratio (new / base; below 1 is faster) are printed.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_rows(text, key_columns, value_column):
    """{key fields: value} from the lines whose value field is a number."""
    rows = {}
    for line in text.splitlines():
        fields = line.split()
        if "," in line or len(fields) < max(key_columns, value_column):
            continue
        try:
            rows[tuple(fields[:key_columns])] = float(fields[value_column - 1])
        except ValueError:
            continue
    return rows


def run_in(tree, command):
    result = subprocess.run([sys.executable, *command], cwd=tree, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=tree))
    if result.returncode:
        raise SystemExit(f"compare_revisions.py: benchmark failed in {tree}:\n{result.stderr}")
    return result.stdout


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        raise SystemExit("compare_revisions.py: error: give the benchmark after '--'")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision to compare against (e.g. HEAD~3)")
    parser.add_argument("--new", default=None,
                        help="revision to compare (default: the working tree as it is)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--key-columns", type=int, default=4)
    parser.add_argument("--value-column", type=int, default=5)
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    trees = {"base": tempfile.mkdtemp(prefix="bench-base-"), "new": REPO}
    if args.new:
        trees["new"] = tempfile.mkdtemp(prefix="bench-new-")
    for side, revision in (("base", args.base), ("new", args.new)):
        if revision:
            subprocess.run(["git", "worktree", "add", "--detach", "-q", trees[side], revision],
                           cwd=REPO, check=True)
    samples = {"base": {}, "new": {}}
    try:
        for round_index in range(args.rounds):
            order = [("base", trees["base"]), ("new", trees["new"])]
            for side, tree in order if round_index % 2 == 0 else order[::-1]:
                output = run_in(tree, command)
                label = {"base": args.base, "new": args.new or "working tree"}[side]
                print(f"--- round {round_index + 1}, {side} ({label})")
                print(output.rstrip(), flush=True)
                for key, value in parse_rows(output, args.key_columns, args.value_column).items():
                    samples[side].setdefault(key, []).append(value)
    finally:
        for side, revision in (("base", args.base), ("new", args.new)):
            if revision:
                subprocess.run(["git", "worktree", "remove", "--force", trees[side]], cwd=REPO)
    print(f"\nmedian over {args.rounds} rounds (column {args.value_column}); ratio new / base")
    for key in samples["new"]:
        if key in samples["base"]:
            base = statistics.median(samples["base"][key])
            new = statistics.median(samples["new"][key])
            print(f"{' '.join(key):40} base {base:10.4g}  new {new:10.4g}  ratio {new / base:6.3f}")


if __name__ == "__main__":
    main()
