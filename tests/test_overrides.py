"""``--set KEY VALUE``: one parser, typed by the defaults, the same errors in every tool."""
import importlib

import pytest

from data_provider import overrides
from data_provider.overrides import OverrideError, parse

DEFAULTS = {"RATE": 0.5, "STEPS": 8, "NAME": "pool", "FLAG": False, "SIZES": [80, 48, 80],
            "KERNEL": [[5, 5], [3, 3]], "MIXED": [0.1, 1000], "ANY": None,
            "NET": {"DIM_Z": 16, "REFINE_CH": 32}}


def test_values_take_the_type_of_their_default():
    values = parse([("RATE", "1"), ("STEPS", "3"), ("NAME", "tower"), ("FLAG", "True"),
                    ("SIZES", "[16,16,16]"), ("KERNEL", "[[1, 1], [2, 2]]"),
                    ("MIXED", "[1, 2.5]"), ("ANY", "(1, 'a')"), ("NET.DIM_Z", "4")], DEFAULTS)
    assert values == {"RATE": 1.0, "STEPS": 3, "NAME": "tower", "FLAG": True,
                      "SIZES": [16, 16, 16], "KERNEL": [[1, 1], [2, 2]], "MIXED": [1, 2.5],
                      "ANY": (1, "a"), "NET.DIM_Z": 4}
    assert isinstance(values["RATE"], float)
    assert parse([("FLAG", "false"), ("NAME", "'quoted'")], DEFAULTS) == \
        {"FLAG": False, "NAME": "quoted"}
    assert parse([("NAME", "12")], DEFAULTS) == {"NAME": "12"}  # a string key keeps its text


def test_later_pairs_win_and_nesting_round_trips():
    assert parse([("STEPS", "1"), ("STEPS", "2")], DEFAULTS) == {"STEPS": 2}
    assert overrides.nest(overrides.flatten(DEFAULTS)) == DEFAULTS


@pytest.mark.parametrize("key, text, expected", [
    ("STEPS", "2.0", "--set STEPS 2.0: expected an integer (default 8)"),
    ("STEPS", "True", "--set STEPS True: expected an integer (default 8)"),
    ("RATE", "fast", "--set RATE fast: expected a number (default 0.5)"),
    ("FLAG", "1", "--set FLAG 1: expected True or False (default False)"),
    ("SIZES", "[1.5,2,2]", "--set SIZES [1.5,2,2]: expected a list of integers"),
    ("KERNEL", "[[1, 'a']]", "--set KERNEL [[1, 'a']]: expected a list of lists of integers"),
    ("NAME", "[1]", None),  # text for a string key is taken as it is
])
def test_a_value_of_the_wrong_type_names_key_and_type(key, text, expected):
    if expected is None:
        assert parse([(key, text)], DEFAULTS) == {key: text}
        return
    with pytest.raises(OverrideError) as error:
        parse([(key, text)], DEFAULTS)
    assert str(error.value).startswith(expected)


def test_an_unknown_key_names_the_closest_ones():
    with pytest.raises(OverrideError, match=r"--set STEP: unknown config key; closest: STEPS"):
        parse([("STEP", "1")], DEFAULTS)
    with pytest.raises(OverrideError, match=r"unknown GQNConfig key; closest: NET.DIM_Z"):
        parse([("net.dimz", "1")], DEFAULTS, what="GQNConfig")
    with pytest.raises(OverrideError, match=r"closest: NET.REFINE_CH"):
        parse([("CONST.REFINE_CH", "1")], DEFAULTS)
    with pytest.raises(OverrideError, match=r"known keys: ANY, FLAG"):
        parse([("ZZZZZZZ", "1")], DEFAULTS)
    with pytest.raises(OverrideError, match="NET.DIM_Z"):  # a section is not a key
        parse([("NET", "{}")], DEFAULTS)


# Every tool that takes --set: (module, program, extra flags). Each answers before
# reading data or building a model.
TOOLS = [
    ("training.train_gqn_draw", "train_gqn_draw.py", [], "LSTM_OUTPUT_CHANNEL",
     "LSTM_OUTPUT_CHANNELS", "LSTM_OUTPUT_CHANNELS", "an integer"),
    ("apps.quickstart", "quickstart.py", [], "Z_CHANNEL", "Z_CHANNELS", "Z_CHANNELS",
     "an integer"),
    ("training.train_gen", "train_gen.py", [], "hiden_channels", "hidden_channels",
     "baseline", "True or False"),
    ("training.train_fcr_alphagan", "train_fcr_alphagan.py", [], "NET.DIMZ", "NET.DIM_Z",
     "CONST.N_VOX", "a list of integers"),
    ("evaluation.run", "run.py", ["--mode", "evaluate_noise"], "CHECK_FRQ", "CHECK_FREQ",
     "CHECK_FREQ", "an integer"),
]


@pytest.mark.parametrize("module, prog, extra, typo, closest, key, kind", TOOLS)
def test_every_tool_reports_bad_overrides_in_one_line(module, prog, extra, typo, closest, key,
                                                      kind, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tool = importlib.import_module(module)

    def exit_code(argv):
        try:
            code = tool.main(argv)
        except SystemExit as stop:
            code = stop.code
        return code

    assert exit_code(extra + ["--set", typo, "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{prog}: error: --set {typo}: unknown"), err
    assert f"closest: {closest}" in err
    assert exit_code(extra + ["--set", key, "2.5x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{key} 2.5x" in err and f"expected {kind}" in err, err
    assert list(tmp_path.iterdir()) == []  # nothing rendered or written
