"""Training on all local accelerators: data parallelism through the backends' own APIs.

Data parallelism keeps one copy of the model on every device, splits each
global batch between them, and averages the gradients, so a step on N devices
computes what one step on one device computes for the same global batch. On
JAX this is Keras' distribution API (``keras.distribution.DataParallel``); on
TensorFlow it is ``tf.distribute.MirroredStrategy``. Nothing here is home-made:
this module only picks the right one and says how many devices it uses.

Build, compile and train the model inside the context, so that its weights are
created on every device::

    with data_parallel() as replicas:
        model = build_model("course_vit", num_classes=10)
        train(model, data, "runs/dp", batch_size=128 * replicas)

``python -m vitcourse train --data-parallel`` does the same. Scale the global
batch with the number of devices (here 128 per device) and the learning rate
with it, linearly (Goyal et al., https://arxiv.org/abs/1706.02677), keeping the
warmup. Introduced in book/running.md.
"""

import contextlib

import keras


def accelerators():
    """The local devices data parallelism would use: the GPUs/TPUs, or the CPU devices where there are none."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        devices = jax.devices()
        return [f"{d.platform}:{d.id}" for d in devices]
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    raise ValueError(
        f"Data-parallel training supports the jax and tensorflow backends, not {backend!r}: "
        "set KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow."
    )


@contextlib.contextmanager
def data_parallel(devices=None):
    """Builds, compiles and trains the models made inside it on ``devices`` (default: all local ones).

    Yields the number of devices (replicas). Outside it, training uses one device again.
    """
    devices = list(devices or accelerators())
    backend = keras.backend.backend()
    if backend == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield len(devices)
        finally:
            keras.distribution.set_distribution(previous)
    elif backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy(devices=devices)
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    else:
        accelerators()  # raises the error that names the supported backends


def replicate(model):
    """A copy of ``model`` with the same weights, made in the current scope (one copy per device in it)."""
    weights = model.get_weights()
    copy = keras.models.clone_model(model)
    copy.set_weights(weights)
    return copy
