"""The demo behind ``bash run.sh demo``: renders data, trains to its time budget, renders views."""
import re
import shlex

import pytest

from apps import quickstart
from training import train_gqn_draw

SMALL = ["--num_train", "6", "--num_test", "2", "--num_scenes", "2", "--log_steps", "5",
         "--set", "LSTM_OUTPUT_CHANNELS", "8", "LSTM_CANVAS_CHANNELS", "8", "ENC_CHANNELS", "16"]


def _main(argv, capsys):
    with pytest.raises(SystemExit) as e:
        quickstart.main(argv)
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.mark.slow
def test_demo_ends_completed_and_prints_the_training_command(tmp_path, capsys):
    demo = tmp_path / "demo"
    code, out, err = _main(["--demo_dir", str(demo), "--minutes", "0.04"] + SMALL, capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert re.fullmatch(r"\[demo\] completed: \d+ training steps in .*model", lines[-1])
    assert "(stopped by max_seconds)" in out and "SIGTERM" not in out + err
    assert (demo / "views" / "views.png").exists() and (demo / "views" / "metrics.json").exists()
    # the printed command continues the same run: its configuration is accepted
    command = next(line for line in lines if "train more by hand:" in line).split(": ", 1)[1]
    words = shlex.split(command)
    assert words[:2] == ["python", "training/train_gqn_draw.py"]
    args = train_gqn_draw.build_parser().parse_args(words[2:] + ["--max_steps", "0"])
    assert args.model_dir == str(demo / "model") and args.max_seconds is None
    assert train_gqn_draw.config_from_args(args).LSTM_OUTPUT_CHANNELS == 8
    # and resumes it: the run's config.json and checkpoint are accepted (nothing to train)
    before = int(re.search(r"completed: (\d+)", lines[-1]).group(1))
    said = []
    result = train_gqn_draw.run(train_gqn_draw.build_parser().parse_args(
        words[2:] + ["--max_steps", str(before)]), log=said.append)
    assert result["step"] == before
    assert any("resumed from" in line for line in said), said


@pytest.mark.parametrize("argv, message", [
    (["--minutes", "0"], "--minutes must be > 0"),
    (["--minutes", "1", "--img_size", "18"], "--img_size must be a multiple of 4"),
    (["--minutes", "1", "--bogus", "1"], "quickstart.py: error: unrecognized arguments: --bogus"),
])
def test_bad_input_exits_2_in_one_line(tmp_path, capsys, argv, message):
    code, out, err = _main(["--demo_dir", str(tmp_path), "--data_dir", str(tmp_path)] + argv,
                           capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
