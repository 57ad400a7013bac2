"""FusedAdam: Keras Adam whose per-variable update is one fused kernel.

Same maths, slots and checkpoint layout as ``keras.optimizers.Adam``
(momentums m and velocities v, ``iterations``); only ``update_step`` differs:
instead of Keras' sequence of element-wise ops (several passes over each
variable) it calls TensorFlow's ``ResourceApplyAdam`` once per variable:

    t = iterations + 1
    lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m <- m + (g - m) * (1 - beta_1)
    v <- v + (g^2 - v) * (1 - beta_2)
    var <- var - lr_t * m / (sqrt(v) + epsilon)

which is exactly Keras Adam's update (epsilon added to sqrt(v), not inside it).
AMSGrad is not supported (Keras' ``amsgrad=True`` path is not fused); the
speed-up is measured by ``benchmarks/gqn_train_step.py --optimizers keras fused``.
"""
import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` (no AMSGrad) with a fused per-variable update."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdam does not support amsgrad=True; use keras.optimizers.Adam")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, local_step), beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
