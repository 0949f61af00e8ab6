"""Data-parallel training on several devices, checked on CPU with virtual devices.

Each case runs in a fresh process, because the number of devices is fixed when
the backend starts: JAX gets two host devices from
``XLA_FLAGS=--xla_force_host_platform_device_count=2``, TensorFlow two logical
CPU devices. A data-parallel run must give the same losses and weights as a
single-device run on the same global batches, within float32 round-off.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

# Each test starts its own processes for both backends, so one pass of the suite is enough:
# the JAX pass of `make test-package` skips tests marked tf_only.
pytestmark = pytest.mark.tf_only

PROBE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from vitcourse.distribute import accelerators, data_parallel
    from vitcourse.presets import build_model

    x = np.random.default_rng(0).integers(0, 256, size=(32, 16, 16, 3)).astype("uint8")
    y = np.arange(32) % 4

    def run(parallel):
        keras.utils.set_random_seed(0)
        context = data_parallel() if parallel else keras.utils.custom_object_scope({})
        with context as replicas:
            model = build_model("course_vit", input_shape=(16, 16, 3), patch_size=4, depth=1, projection_dim=16, num_heads=2,
                                key_dim=8, mlp_units=(32, 16), num_classes=4, augmentation="none", dropout=0.0)
            model.compile(keras.optimizers.SGD(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return replicas, history.history["loss"], [np.asarray(w) for w in model.get_weights()]

    _, single_loss, single_weights = run(False)
    replicas, parallel_loss, parallel_weights = run(True)
    print(json.dumps({
        "devices": accelerators(),
        "replicas": replicas,
        "single_loss": single_loss,
        "parallel_loss": parallel_loss,
        "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(single_weights, parallel_weights)),
        "max_weight": max(float(np.abs(a).max()) for a in single_weights),
    }))
    """
)


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_data_parallel_step_equals_single_device_step(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and len(report["devices"]) == 2, report
    assert report["parallel_loss"] == pytest.approx(report["single_loss"], rel=1e-4)
    assert report["max_weight_difference"] <= 1e-5 * max(1.0, report["max_weight"]), report
    # The two runs trained: the loss moved, so equal weights are not equal initial weights.
    assert report["single_loss"][1] != report["single_loss"][0]


def test_data_parallel_refuses_an_unsupported_backend(monkeypatch):
    import keras

    from vitcourse import distribute

    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        with distribute.data_parallel():
            pass


TRAIN_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import keras
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[2])
    from tiny_training import InterruptAt, tiny_data, tiny_model
    from vitcourse.training import resume_info, train

    out_dir = Path(sys.argv[1])
    data = tiny_data()
    try:
        train(tiny_model(), data, out_dir, epochs=3, batch_size=16, verbose=0,
              callbacks=[InterruptAt(1)], data_parallel=True)
    except KeyboardInterrupt:
        pass
    interrupted = resume_info(out_dir)
    result = train(tiny_model(seed=2), data, out_dir, epochs=3, batch_size=16, verbose=0, data_parallel=True)
    reloaded = keras.saving.load_model(out_dir / "best.keras")
    print(json.dumps({
        "interrupted_next_epoch": interrupted["next_epoch"],
        "initial_epoch": result.initial_epoch,
        "epochs": result.history["epoch"],
        "iterations": int(keras.ops.convert_to_numpy(result.model.optimizer.iterations.value)),
        "complete": resume_info(out_dir)["complete"],
        "reloaded_outputs": list(reloaded.output_shape),
    }))
    """
)


@pytest.mark.parametrize("backend", ["jax", "tensorflow"])
def test_data_parallel_training_checkpoints_and_resumes(backend, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    tests = os.path.dirname(__file__)
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_PROBE, str(tmp_path / "run"), tests],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["interrupted_next_epoch"] == 2 and report["initial_epoch"] == 1
    assert report["epochs"] == [1, 2, 3] and report["complete"]
    assert report["iterations"] == 3 * 4  # 64 images (10% held out: 58) in global batches of 16
    assert report["reloaded_outputs"] == [None, 10]


def test_command_line_scales_batch_and_learning_rate_with_the_devices(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2", "VITCOURSE_MODE": "smoke"}
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    command = [sys.executable, "-m", "vitcourse", "train", "--preset", "course_vit", "--dataset", "synthetic10",
               "--set", "depth=1", "--epochs", "1", "--data-parallel", "--quiet", "--out", str(tmp_path / "run")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Data-parallel on 2 device(s): 64 images per device" in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["batch_size"] == 128
    assert metrics["learning_rate"] == pytest.approx(2 * 1e-3)
