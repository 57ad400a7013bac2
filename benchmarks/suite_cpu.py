"""Where the test suite spends its CPU seconds: ``python benchmarks/suite_cpu.py [pytest args]``.

Runs the suite as ``bash run.sh test`` does (``pytest -n <cores, at most 4> --dist loadfile
--no-loadscope-reorder``; extra arguments are passed on, e.g. ``-m "not slow"`` or one
file) with this module loaded as a pytest plugin in every test process. At the start and
the end of each test the plugin appends a line to a log of its process: the wall clock, and
the CPU seconds (user + system) of the process and of its children that have ended (the
commands a test starts with ``subprocess`` count for that test). Afterwards it prints the
pytest time, the CPU seconds of the whole process tree, the sum over tests, and the files
and tests that take the most CPU seconds; ``--top N`` sets how many (default 15).

The suite is CPU-bound on a small machine: with P test processes on P cores it cannot end
before its CPU seconds divided by P, so the tests to shorten are the ones at the top here.
"""
import argparse
import collections
import os
import resource
import subprocess
import sys
import tempfile
import time

LOG_DIR = "SUITE_CPU_LOG_DIR"


# ------------------------------------------------------------- the plugin (test processes)
_log = None


def _cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _write(kind, nodeid):
    global _log
    folder = os.environ.get(LOG_DIR)
    if not folder:
        return
    if _log is None:
        name = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _log = open(os.path.join(folder, f"{name}.tsv"), "a")
    own, children = _cpu()
    _log.write(f"{time.time():.3f}\t{kind}\t{nodeid}\t{own:.3f}\t{children:.3f}\n")
    _log.flush()


def pytest_runtest_logstart(nodeid, location):
    _write("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _write("end", nodeid)


# ------------------------------------------------------------------------- the report
def read_logs(folder):
    """{test id: (wall seconds, CPU seconds of the process and its ended children)}, and
    {log name: (first point, last point)}, a point being (time, CPU seconds)."""
    names = sorted(os.listdir(folder))
    if any(name.startswith("gw") for name in names):
        # under pytest-xdist the controller sees every test's start and end too, at the
        # cost of its own process: only the test processes' logs count
        names = [name for name in names if name.startswith("gw")]
    tests, spans = {}, {}
    for name in names:
        started = None
        with open(os.path.join(folder, name)) as f:
            for line in f:
                at, kind, nodeid, own, children = line.rstrip("\n").split("\t")
                point = (float(at), float(own) + float(children))
                if kind == "start":
                    started = point
                elif started is not None:
                    tests[nodeid] = (point[0] - started[0], point[1] - started[1])
                first, last = spans.get(name, (point, point))
                spans[name] = (min(first, point), max(last, point))
    return tests, spans


def process_lines(spans, start):
    """A line per test process: when its first test started and its last one ended, in
    seconds after pytest started, and the CPU seconds in between (idle ends show here)."""
    lines = []
    for name, (first, last) in sorted(spans.items()):
        lines.append(f"{name.split('.')[0]:>6s}: tests from {first[0] - start:6.1f} s to "
                     f"{last[0] - start:6.1f} s, {last[1] - first[1]:6.1f} CPU s")
    return lines


def report(tests, top=15):
    """Lines: the sum over tests, then the files and the tests with the most CPU seconds."""
    files = collections.defaultdict(lambda: [0.0, 0.0])
    for nodeid, (wall, cpu) in tests.items():
        entry = files[nodeid.split("::")[0]]
        entry[0] += wall
        entry[1] += cpu
    lines = [f"{len(tests)} tests: {sum(c for _, c in tests.values()):.1f} CPU seconds, "
             f"{sum(w for w, _ in tests.values()):.1f} s of test time over the processes",
             "", f"{'file':60s} {'CPU s':>7s} {'wall s':>7s}"]
    for name, (wall, cpu) in sorted(files.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"{name:60s} {cpu:7.1f} {wall:7.1f}")
    lines += ["", f"{'test':90s} {'CPU s':>7s} {'wall s':>7s}"]
    for nodeid, (wall, cpu) in sorted(tests.items(), key=lambda kv: -kv[1][1])[:top]:
        lines.append(f"{nodeid[:90]:90s} {cpu:7.1f} {wall:7.1f}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=15, help="files and tests listed")
    args, pytest_args = parser.parse_known_args(argv)
    if args.top < 1:
        parser.error("--top must be a positive integer")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    workers = min(os.cpu_count() or 1, 4)
    spread = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"] \
        if workers > 1 else []
    with tempfile.TemporaryDirectory(prefix="suite_cpu_") as folder:
        env = dict(os.environ, **{LOG_DIR: folder})
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.dirname(os.path.abspath(__file__))]
            + [p for p in [env.get("PYTHONPATH")] if p])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start, started_at = time.perf_counter(), time.time()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", *spread, "-p", "suite_cpu",
                               *pytest_args], cwd=root, env=env)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tree = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"\npytest: {wall:.1f} s of wall clock, {tree:.1f} CPU seconds in the whole "
              f"process tree ({workers} test process{'es' if workers > 1 else ''})")
        tests, spans = read_logs(folder)
        print("\n".join(process_lines(spans, started_at) + [""] + report(tests, args.top)))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
