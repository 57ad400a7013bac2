"""The GQN download helper builds the original bucket paths and skips shards present."""
import pytest

from data_provider import download_gqn, gqn_datasets


def test_first_shards_use_original_names():
    urls = download_gqn.shard_urls("mazes", "test", 2)
    assert urls == ["gs://gqn-dataset/mazes/test/001-of-120.tfrecord",
                    "gs://gqn-dataset/mazes/test/002-of-120.tfrecord"]
    assert len(download_gqn.shard_urls("rooms_ring_camera", "train")) == 2160


def test_present_shards_are_not_fetched_again(tmp_path):
    dest = gqn_datasets.split_dir(str(tmp_path), "mazes", "train")
    (tmp_path / "mazes" / "train").mkdir(parents=True)
    (tmp_path / "mazes" / "train" / "0001-of-1080.tfrecord").write_bytes(b"")
    commands = download_gqn.download_commands("mazes", str(tmp_path), train_shards=3, test_shards=0)
    assert len(commands) == 1
    target, argv = commands[0]
    assert target == dest
    assert argv[:3] == ["gsutil", "-m", "cp"]
    assert [a.rsplit("/", 1)[1] for a in argv[3:-1]] == ["0002-of-1080.tfrecord",
                                                         "0003-of-1080.tfrecord"]


def test_dry_run_prints_commands_and_bad_count_exits_2(tmp_path, capsys):
    assert download_gqn.main(["--dataset", "jaco", "--root", str(tmp_path),
                              "--train_shards", "1", "--test_shards", "1", "--dry_run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(
        f"gs://gqn-dataset/jaco/train/0001-of-3600.tfrecord {tmp_path}/jaco/train/")
    assert download_gqn.main(["--dataset", "jaco", "--root", str(tmp_path),
                              "--train_shards", "5000"]) == 2
    assert capsys.readouterr().err == \
        "download_gqn.py: error: --train_shards 5000: jaco/train has 3600 shards\n"


def test_cli_errors_one_line_exit_2(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stop:
        download_gqn.main(["--dataset", "jacko", "--root", str(tmp_path)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "invalid choice: 'jacko'" in err
    monkeypatch.setattr(download_gqn.shutil, "which", lambda name: None)
    assert download_gqn.main(["--dataset", "mazes", "--root", str(tmp_path),
                              "--train_shards", "1", "--test_shards", "0"]) == 2
    assert capsys.readouterr().err == ("download_gqn.py: error: gsutil not found; install it with "
                                       "'pip install -r requirements-download.txt'\n")
    assert not (tmp_path / "mazes").exists()
    with pytest.raises(SystemExit) as stop:
        download_gqn.main(["--help"])
    assert stop.value.code == 0 and "first N train shards [all] (default: None)" in \
        " ".join(capsys.readouterr().out.split())




def _closed_port():
    import socket

    with socket.socket() as probe:  # bound, never listening: connections are refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("stalls", [False, True])
def test_unreachable_bucket_fails_fast_in_one_line(tmp_path, capsys, monkeypatch, stalls):
    import time

    monkeypatch.setattr(download_gqn.shutil, "which", lambda name: "/usr/bin/gsutil")
    monkeypatch.setattr(download_gqn, "HOST", ("127.0.0.1", _closed_port()))
    monkeypatch.setattr(download_gqn, "NETWORK_TIMEOUT", 1.5)
    if stalls:  # a name lookup that does not answer in time
        def lookup_for_a_minute(*args, **kwargs):
            time.sleep(60)
            raise OSError("no answer")

        monkeypatch.setattr(download_gqn.socket, "create_connection", lookup_for_a_minute)
    ran = []
    monkeypatch.setattr(download_gqn.subprocess, "run", lambda *a, **k: ran.append(a))
    start = time.monotonic()
    code = download_gqn.main(["--dataset", "mazes", "--root", str(tmp_path),
                              "--train_shards", "1", "--test_shards", "0"])
    assert time.monotonic() - start < 10 and code == 1 and ran == []
    err = capsys.readouterr().err
    assert err.startswith(f"download_gqn.py: cannot reach 127.0.0.1:{download_gqn.HOST[1]} (")
    assert ("no answer within 1.5 s" in err) == stalls
    assert err.count("\n") == 1 and "check the network connection" in err

def test_network_check_passes_for_a_listening_host():
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        download_gqn.check_network(server.getsockname(), timeout=5)  # no error
