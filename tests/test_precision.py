"""models.precision: bfloat16 compute only where the hardware has bfloat16 units."""
import pytest

from models import precision
from models.air.config import ConfigError, make_config

FLAGS = "flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512bw"


@pytest.mark.parametrize("extra, expected", [
    ("", False), (" avx512_bf16", True), (" amx_bf16 amx_tile", True), (" avx512_bf16x", False)])
def test_cpu_flags_decide(tmp_path, extra, expected):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\n{FLAGS}{extra}\n\n")
    assert precision.cpu_has_bfloat16(str(info)) is expected


def test_unreadable_cpuinfo_means_no_bfloat16(tmp_path):
    assert precision.cpu_has_bfloat16(str(tmp_path / "missing")) is False


def test_a_forced_setting_is_kept():
    assert precision.use_bfloat16(True) is True
    assert precision.use_bfloat16(False) is False


def test_air_default_follows_the_hardware_and_can_be_forced():
    from models.air.model import build_air_model_3d

    small = {"image_size": 16, "channels": [4, 4, 4, 4], "glimpse_size": 8,
             "glimpse_channels": [4, 4, 4, 4], "glimpse_hidden": 8, "hidden": 8}
    assert make_config()["mixed_precision"] is None
    expected = "bfloat16" if precision.use_bfloat16(None) else "float32"
    assert build_air_model_3d(make_config(small)).dtype_policy.compute_dtype == expected
    forced = build_air_model_3d(make_config(dict(small, mixed_precision=True)))
    assert forced.dtype_policy.compute_dtype == "bfloat16"
    assert forced.dtype_policy.variable_dtype == "float32"
    with pytest.raises(ConfigError, match="mixed_precision must be True or False, or None"):
        make_config({"mixed_precision": "yes"})
