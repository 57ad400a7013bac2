"""Whether to compute in bfloat16 here: where the hardware has bfloat16 units.

Mixed precision (bfloat16 compute, float32 weights and outputs) pays only where
the hardware multiplies bfloat16 natively: a GPU of compute capability 8.0 or
more, or a CPU with AVX-512 BF16 or AMX instructions. Elsewhere TensorFlow
converts every operand to float32 and back, and a step takes several times
longer than in float32 (AIR's training step on a 2-core AMD EPYC without
bfloat16 instructions: 4.85 times, ``benchmarks/air_train_step.py``; GQN's:
``benchmarks/gqn_train_step.py --variants fp32 bf16``).

A config's ``mixed_precision`` of ``None`` means "decide here"
(``use_bfloat16``); ``True`` and ``False`` force the choice.
"""
CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True if the CPU's flags list bfloat16 instructions (False when unknown)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in CPU_FLAGS)
    except OSError:
        pass
    return False


def gpu_has_bfloat16():
    """True if TensorFlow sees a GPU of compute capability 8.0 or more."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (8, 0):
            return True
    return False


def use_bfloat16(setting=None):
    """The choice for a config's ``mixed_precision``: ``True``/``False`` as given; ``None``:
    bfloat16 where the hardware has it natively (a GPU is used when there is one)."""
    if setting is not None:
        return bool(setting)
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return gpu_has_bfloat16()
    return cpu_has_bfloat16()
