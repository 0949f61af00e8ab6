"""Every kind of .keras file the package writes loads after ``import vitcourse`` alone, in safe mode.

The files are written here; a fresh Python process that imports only keras,
numpy and vitcourse then loads each with ``keras.saving.load_model(path,
safe_mode=True)`` and gives the same outputs. A fresh process matters: in this
one, importing any module of the package may register what a file needs.
(The training backup, ``backup/latest.weights.h5``, holds weights only, not a
model to deserialize; tests/test_training.py resumes from it.)
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from tiny_training import tiny_data, tiny_model

import vitcourse
from vitcourse.data import synthetic_cifar
from vitcourse.presets import prepare_model
from vitcourse.training import train

REPO = Path(__file__).resolve().parents[1]

# Each preset, shrunk so that it saves in a moment (resnet_features_flatten's Dense
# alone holds 85M parameters), but with every layer kind it uses.
SMALL_PRESETS = {
    "kerasio_vit": {"depth": 1, "head_units": (16,)},
    "patches2x2_cifar10": {"depth": 1, "head_units": (16,)},
    "resnet_features_flatten": {
        "input_shape": (3, 3, 32), "features_units": 144, "projection_dim": 16, "num_heads": 2,
        "key_dim": 8, "mlp_units": (32, 16), "depth": 1, "head_units": (16,),
    },
    "vit_small_ds": {"depth": 1, "head_units": (16,)},
    "course_vit": {"depth": 1, "num_classes": 10},
}  # fmt: skip

LOAD_IN_A_FRESH_PROCESS = textwrap.dedent(
    """
    import sys

    import keras
    import numpy as np

    import vitcourse

    assert "vitcourse.training" not in sys.modules  # only what `import vitcourse` registers
    for path in sys.argv[1:]:
        model = keras.saving.load_model(path, safe_mode=True)
        x = np.load(path + ".in.npy")
        np.save(path + ".out.npy", keras.ops.convert_to_numpy(model(x, training=False)))
        print("loaded", path)
    """
)


def outputs(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def write_files(folder):
    """Writes every kind of .keras file; returns {path: (input, expected output)}."""
    files = {}
    rng = np.random.default_rng(0)

    # best.keras from train(), on a tiny model and on a preset with the course's layers
    tiny = train(tiny_model(), tiny_data(), folder / "tiny_run", epochs=1, batch_size=16, verbose=0)
    x = tiny_data().x_test[:4].astype("float32")
    files[tiny.best_model_path] = (x, outputs(keras.saving.load_model(tiny.best_model_path), x))
    data = synthetic_cifar(n_train=64, n_test=16)
    preset_run = train(
        vitcourse.build_model("course_vit", num_classes=10, depth=1, projection_dim=16, num_heads=2,
                              key_dim=8, mlp_units=(32, 16)),
        data, folder / "course_vit_run", epochs=1, batch_size=32, verbose=0,
    )  # fmt: skip
    x = data.x_test[:4].astype("float32")
    files[preset_run.best_model_path] = (x, outputs(keras.saving.load_model(preset_run.best_model_path), x))

    # a model of each preset, saved with model.save
    for name, overrides in SMALL_PRESETS.items():
        model = vitcourse.build_model(name, **overrides)
        x = rng.uniform(0, 255, (2, *model.input_shape[1:])).astype("float32")
        prepare_model(model, x)  # kerasio_vit's Normalization needs its statistics
        path = folder / f"{name}.keras"
        model.save(path)
        files[path] = (x, outputs(model, x))
    return files


@pytest.mark.slow
def test_every_written_file_loads_after_import_vitcourse_alone(tmp_path):
    files = write_files(tmp_path)
    for path, (x, _) in files.items():
        np.save(str(path) + ".in.npy", x)
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", LOAD_IN_A_FRESH_PROCESS, *map(str, files)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("loaded ") == len(files) == 2 + len(SMALL_PRESETS)
    for path, (_, expected) in files.items():
        np.testing.assert_allclose(np.load(str(path) + ".out.npy"), expected, rtol=1e-4, atol=1e-4)
