"""One check for every public layer, the same way (STYLE.md, convention 2).

``run_layer_test`` checks: the config round trip, serialisation, symbolic and
eager calls, the weight count, one ``fit`` step, and a ``.keras`` save/load in
safe mode with no ``custom_objects`` that gives identical outputs.
"""

import inspect

import keras
import numpy as np


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_params=None,
    tmp_path=None,
    input_range=(0.0, 1.0),
):
    """Checks ``layer_cls(**init_kwargs)`` on inputs of ``input_shape`` (batch included)."""
    rng = np.random.default_rng(0)
    data = rng.uniform(*input_range, size=input_shape).astype("float32")

    # 1. The config holds exactly the constructor arguments, and round-trips.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    own_args = set(inspect.signature(layer_cls.__init__).parameters) - {"self", "kwargs"}
    for arg in own_args:
        assert arg in config, f"{layer_cls.__name__}.get_config() lacks {arg!r}"
    for arg, value in init_kwargs.items():
        expected = list(value) if isinstance(value, tuple) else value
        assert config[arg] == expected, f"config[{arg!r}] = {config[arg]!r}, expected {value!r}"
    rebuilt = layer_cls.from_config(config)
    assert rebuilt.get_config() == config

    # 2. Serialisation by registered name (what a .keras file stores).
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is layer_cls
    assert restored.get_config() == config

    # 3. Symbolic call, eager call and compute_output_shape agree.
    inputs = keras.Input(shape=input_shape[1:], batch_size=input_shape[0])
    symbolic = layer_cls(**init_kwargs)(inputs)
    assert tuple(symbolic.shape) == tuple(expected_output_shape)
    eager_layer = layer_cls(**init_kwargs)
    eager = eager_layer(data)
    assert tuple(eager.shape) == tuple(expected_output_shape)
    assert tuple(eager_layer.compute_output_shape(input_shape)) == tuple(expected_output_shape)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(eager)))

    # 4. The number of weights.
    if expected_num_params is not None:
        assert eager_layer.count_params() == expected_num_params

    # 5. One fit step runs, and trains the layer's trainable weights.
    inputs = keras.Input(shape=input_shape[1:])
    outputs = keras.layers.Dense(1)(keras.layers.Flatten()(layer_cls(**init_kwargs)(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.AdamW(1e-2), loss="mse")
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.layers[1].trainable_weights]
    history = model.fit(data, np.ones((input_shape[0], 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [keras.ops.convert_to_numpy(w) for w in model.layers[1].trainable_weights]
    assert all(not np.array_equal(b, a) for b, a in zip(before, after)), "a weight did not train"

    # 6. A .keras file loads back in safe mode, with no custom_objects, same outputs.
    if tmp_path is not None:
        path = tmp_path / f"{layer_cls.__name__}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(data, training=False)),
            keras.ops.convert_to_numpy(model(data, training=False)),
            rtol=1e-6,
            atol=1e-6,
        )
    return eager_layer
