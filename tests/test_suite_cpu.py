"""benchmarks/suite_cpu.py: the per-test CPU seconds read back from the test processes' logs."""
from benchmarks import suite_cpu


def _log(path, lines):
    path.write_text("".join("\t".join(str(v) for v in line) + "\n" for line in lines))


def test_logs_give_each_test_its_wall_and_cpu_seconds_from_the_test_processes(tmp_path):
    # a test process: a test of 2 s wall, 1.5 CPU s of its own and 3 in a child it waited for
    _log(tmp_path / "gw0.tsv", [(100.0, "start", "tests/test_a.py::one", 5.0, 0.0),
                                (102.0, "end", "tests/test_a.py::one", 6.5, 3.0),
                                (102.0, "start", "tests/test_a.py::two", 6.5, 3.0),
                                (102.5, "end", "tests/test_a.py::two", 7.0, 3.0)])
    _log(tmp_path / "gw1.tsv", [(100.0, "start", "tests/test_b.py::three", 4.0, 0.0),
                                (101.0, "end", "tests/test_b.py::three", 4.25, 0.0)])
    # the xdist controller sees the same tests at its own, near-zero cost: not counted
    _log(tmp_path / "main.tsv", [(100.0, "start", "tests/test_a.py::one", 1.0, 0.0),
                                 (102.0, "end", "tests/test_a.py::one", 1.0, 0.0)])
    tests, spans = suite_cpu.read_logs(str(tmp_path))
    assert tests == {"tests/test_a.py::one": (2.0, 4.5), "tests/test_a.py::two": (0.5, 0.5),
                     "tests/test_b.py::three": (1.0, 0.25)}
    lines = suite_cpu.report(tests, top=1)
    assert lines[0] == "3 tests: 5.2 CPU seconds, 3.5 s of test time over the processes"
    files = lines[lines.index(next(x for x in lines if x.startswith("file"))) + 1]
    assert files.split() == ["tests/test_a.py", "5.0", "2.5"]
    assert lines[-1].split() == ["tests/test_a.py::one", "4.5", "2.0"]
    # each test process's span: first start to last end, and the CPU seconds in between
    assert suite_cpu.process_lines(spans, start=99.0) == [
        "   gw0: tests from    1.0 s to    3.5 s,    5.0 CPU s",
        "   gw1: tests from    1.0 s to    2.0 s,    0.2 CPU s"]


def test_a_single_process_run_reads_its_own_log(tmp_path):
    _log(tmp_path / "main.tsv", [(10.0, "start", "t.py::x", 1.0, 0.0),
                                 (11.0, "end", "t.py::x", 1.75, 0.0)])
    assert suite_cpu.read_logs(str(tmp_path))[0] == {"t.py::x": (1.0, 0.75)}
