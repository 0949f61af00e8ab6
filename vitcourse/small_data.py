"""ViTs on small data sets: the 2x2 patches project's ladder of fixes, its L x D sweep, SPT/LSA.

What chapter 07 uses:

- :func:`legacy_decay_learning_rate` and :func:`legacy_decay_schedule`: what
  ``Adam(learning_rate=0.0002, decay=0.1)`` meant in TensorFlow 2.x's (legacy)
  optimizers, ``lr / (1 + decay * iterations)``, as numbers and as Keras 3's
  ``InverseTimeDecay``.
- :data:`LADDER`: the fixes applied one after the other to ``patches2x2_cifar10``.
- :data:`ABLATION`: plain ViT, SPT, LSA, both, and a convolutional tokenizer.
- :func:`sweep`, :func:`sweep_parameters` and :func:`plot_sweep`: an L x D grid
  of models, trained or counted, and its heatmap.
- :func:`train_steps`: trains a compiled model for exactly ``steps`` optimizer steps.
- :func:`private_attention_method`: what keras.io's LSA layer overrides, as the
  installed Keras has it.
- renderers of the recorded runs (``results/small_data_*.json``).

Introduced in chapter 07.
"""

import inspect
import math
import time

import keras
import numpy as np

from vitcourse.presets import build_model
from vitcourse.results import _mean_sd, _percent, _record_line, markdown_table, recorded_runs

# ---- what `decay=` did -----------------------------------------------------------------------


def legacy_decay_learning_rate(learning_rate, decay, steps):
    """The learning rate of TF 2.x's legacy optimizers at each of ``steps`` steps.

    ``tf.keras.optimizers.legacy.Adam(learning_rate, decay=d)`` (and ``tf.optimizers.Adam``
    up to TF 2.10) used ``learning_rate / (1 + d * iterations)`` at each step:
    the decay counts optimizer steps, not epochs.

    Returns:
        float64 array of shape ``(steps,)``.
    """
    if decay < 0:
        raise ValueError(f"decay must be >= 0, got {decay}.")
    iterations = np.arange(int(steps), dtype="float64")
    return learning_rate / (1.0 + decay * iterations)


def legacy_decay_schedule(learning_rate, decay, accumulation=1):
    """The same decay in Keras 3: ``InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)``.

    With ``accumulation`` > 1 (``gradient_accumulation_steps`` of the optimizer, whose
    schedule counts micro-batches), ``decay_steps=accumulation, staircase=True`` keeps
    the rate of update ``k`` at ``learning_rate / (1 + decay * k)``.
    """
    return keras.optimizers.schedules.InverseTimeDecay(
        initial_learning_rate=float(learning_rate), decay_steps=int(accumulation), decay_rate=float(decay),
        staircase=accumulation > 1,
    )


def legacy_adam(learning_rate=2e-4, decay=0.1, accumulation=1):
    """The 2x2 patches project's ``Adam(learning_rate=0.0002, decay=0.1)``, as TF 2.x ran it.

    ``accumulation`` > 1 averages the gradients of that many micro-batches per update
    (Keras's ``gradient_accumulation_steps``): batches of 512 as 8 x 64, the same
    update with an eighth of the memory.
    """
    return keras.optimizers.Adam(learning_rate=legacy_decay_schedule(learning_rate, decay, accumulation),
                                 gradient_accumulation_steps=int(accumulation) if accumulation > 1 else None)  # fmt: skip


# A batch of 512 through 8 blocks of 256-token attention needs more memory than a 2-core
# machine with 24 GB has (the operating system killed it): larger batches are accumulated.
MICRO_BATCH = 64


# ---- the ladder of fixes and the ablation, as data ------------------------------------------------

# A GAP head: the tokens' average and one linear layer giving logits.
GAP_HEAD = {"pooling": "gap", "head_units": (), "representation_dropout": 0.0, "output_activation": None}

# (name, what changes, preset overrides on patches2x2_cifar10, optimiser, batch size)
LADDER = (
    ("original", "the 2x2 patches project as it is: Adam(0.0002, decay=0.1), batches of 512", {}, "legacy_adam", 512),
    ("optimiser fixed", "AdamW, warmup + cosine decay (compile_model), batches of 64", {}, "adamw_cosine", 64),
    ("GAP head", "average of the tokens and one linear layer instead of Flatten + 2048 + 1024", GAP_HEAD,
     "adamw_cosine", 64),
    ("trained position table", "a learned position table, which the model tracks and trains",
     {**GAP_HEAD, "position_embedding": "learned"}, "adamw_cosine", 64),
    ("4x4 square patches", "square 4x4 patches, 64 tokens instead of 256 strips of 4 pixels",
     {**GAP_HEAD, "position_embedding": "learned", "tokenizer": "patches", "patch_size": 4}, "adamw_cosine", 64),
    ("augmentation", "normalisation, random flips and shifts (augmentation='flip_shift')",
     {**GAP_HEAD, "position_embedding": "learned", "tokenizer": "patches", "patch_size": 4,
      "augmentation": "flip_shift"}, "adamw_cosine", 64),
)  # fmt: skip

# Small models for the ablation: course_vit with 4 blocks of 64-wide tokens (4 heads of 16).
ABLATION_BASE = {"num_classes": 10, "depth": 4, "projection_dim": 64, "key_dim": 16, "mlp_units": (128, 64)}
ABLATION = (
    ("plain ViT", {}),
    ("SPT", {"tokenizer": "spt"}),
    ("LSA", {"locality": True}),
    ("SPT + LSA", {"tokenizer": "spt", "locality": True}),
    ("conv tokenizer", {"tokenizer": "conv", "conv_filters": (64, 128)}),
)

# The sweep's two settings. "original": the project's model at (L, D); "fixed": GAP head,
# learned positions, 4x4 square patches (64 tokens), AdamW with warmup + cosine.
SWEEP_SETTINGS = {
    "original": ({}, "legacy_adam", 512),
    "fixed": (LADDER[4][2], "adamw_cosine", 64),
}


def sweep_overrides(depth, dim, **base):
    """Preset overrides of ``patches2x2_cifar10`` for L = ``depth`` blocks of D = ``dim``.

    As in the project, D is the token size *and* each of the 4 heads' ``key_dim``,
    and the MLP is ``(2D, D)``.
    """
    return {**base, "depth": int(depth), "projection_dim": int(dim), "key_dim": int(dim),
            "mlp_units": (2 * int(dim), int(dim))}  # fmt: skip


def compile_for(model, optimiser, total_steps, learning_rate=None, weight_decay=0.05, accumulation=1):
    """Compile for ``"legacy_adam"`` (the project's) or ``"adamw_cosine"`` (the course's).

    ``accumulation``: micro-batches per update of ``"legacy_adam"`` (see :func:`legacy_adam`).
    """
    from vitcourse.training import compile_model

    probabilities = model.layers[-1].get_config().get("activation") == "softmax"
    if optimiser == "legacy_adam":
        model.compile(
            optimizer=legacy_adam(learning_rate or 2e-4, 0.1, accumulation),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
            metrics=["accuracy"],
        )
        return model
    if optimiser != "adamw_cosine":
        raise ValueError(f"optimiser={optimiser!r}; choose 'legacy_adam' or 'adamw_cosine'.")
    return compile_model(model, learning_rate=learning_rate or 1e-3, weight_decay=weight_decay,
                         total_steps=total_steps, from_logits=not probabilities)  # fmt: skip


def epochs_of(steps, batch_size, num_images):
    """How many epochs ``steps`` steps of ``batch_size`` are, over ``num_images`` (the last batch of an epoch is smaller)."""
    per_epoch = math.ceil(num_images / batch_size)
    full, rest = divmod(int(steps), per_epoch)
    return round(full + rest * batch_size / num_images, 3)


class _StopAfter(keras.callbacks.Callback):
    def __init__(self, steps):
        super().__init__()
        self.steps, self.done = int(steps), 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.done >= self.steps:
            self.model.stop_training = True


def train_steps(model, x, y, steps, batch_size, seed=0):
    """Fit a compiled ``model`` for exactly ``steps`` optimizer steps (partial epochs allowed).

    Returns:
        ``{"steps", "epochs", "seconds", "final_loss", "final_accuracy"}``;
        ``epochs`` may be a fraction (:func:`epochs_of`).
    """
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    keras.utils.set_random_seed(seed)
    per_epoch = math.ceil(len(x) / batch_size)
    stop = _StopAfter(steps)
    started = time.perf_counter()
    history = model.fit(np.asarray(x, "float32"), np.asarray(y), batch_size=int(batch_size),
                        epochs=math.ceil(steps / per_epoch), shuffle=True, callbacks=[stop], verbose=0)  # fmt: skip
    seconds = time.perf_counter() - started
    logs = history.history
    return {
        "steps": stop.done,
        "epochs": epochs_of(stop.done, batch_size, len(x)),
        "seconds": round(seconds, 1),
        "final_loss": float(logs["loss"][-1]),
        "final_accuracy": float(logs["accuracy"][-1]),
    }


class StopAfterSeconds(keras.callbacks.Callback):
    """Stops training once ``seconds`` of wall time have passed after the first step.

    The first step traces and compiles the model; its time is kept apart
    (``first_step_seconds``), so that the budget is spent on training.
    """

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.started, self.steps, self.first_step_seconds = time.perf_counter(), 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        now = time.perf_counter()
        if self.first_step_seconds is None:
            self.first_step_seconds, self.started = now - self.started, now
        elif now - self.started >= self.seconds:
            self.model.stop_training = True


def train_for_seconds(model, x, y, seconds, batch_size, seed=0):
    """Fit a compiled ``model`` for ``seconds`` of wall time after its first (compiling) step.

    The budget a laptop reader has: a cheaper model gets more steps. Returns
    ``{"steps", "epochs", "seconds", "first_step_seconds", "images_per_second", "final_accuracy"}``.
    """
    keras.utils.set_random_seed(seed)
    stop = StopAfterSeconds(seconds)
    started = time.perf_counter()
    history = model.fit(np.asarray(x, "float32"), np.asarray(y), batch_size=int(batch_size), epochs=1_000_000,
                        shuffle=True, callbacks=[stop], verbose=0)  # fmt: skip
    total = time.perf_counter() - started
    timed = total - stop.first_step_seconds
    return {
        "steps": stop.steps,
        "epochs": epochs_of(stop.steps, batch_size, len(x)),
        "seconds": round(total, 1),
        "first_step_seconds": round(stop.first_step_seconds, 1),
        "images_per_second": round((stop.steps - 1) * batch_size / timed, 1) if stop.steps > 1 and timed > 0 else None,
        "final_accuracy": float(history.history["accuracy"][-1]),
    }


def seconds_per_step(build, optimiser, x, y, batch_size, probe_steps=3):
    """Seconds one optimizer step of ``build()`` takes here, after one warm-up step."""
    model = compile_for(build(), optimiser, total_steps=100)
    xb, yb = np.asarray(x[:batch_size], "float32"), np.asarray(y[:batch_size])
    model.train_on_batch(xb, yb)  # traces and compiles
    started = time.perf_counter()
    for _ in range(probe_steps):
        model.train_on_batch(xb, yb)
    return (time.perf_counter() - started) / probe_steps


def run_ladder_step(index, x, y, seconds, seed=0, **overrides):
    """Builds step ``index`` of :data:`LADDER`, compiles it with its optimiser and trains it for ``seconds``.

    For the warmup + cosine schedule, a short probe (two steps of a copy of the
    model) first measures the step time, and the schedule is planned for the steps
    that fit in ``seconds``. ``overrides`` change the preset further (e.g. ``depth=1``).

    A batch larger than :data:`MICRO_BATCH` is accumulated from micro-batches (the
    same update, less memory); ``steps`` then counts whole updates.

    Returns:
        ``(model, run)``: the trained model, and :func:`train_for_seconds`'s dict with
        ``step`` (the name), ``batch_size``, ``accumulation`` and ``planned_steps`` added.
    """
    name, _, step_overrides, optimiser, batch_size = LADDER[index]

    def build():
        return build_model("patches2x2_cifar10", **{**step_overrides, **overrides})

    planned = None
    if optimiser == "adamw_cosine":
        keras.utils.set_random_seed(seed)
        planned = max(1, int(seconds / seconds_per_step(build, optimiser, x, y, batch_size, probe_steps=2)))
    accumulation = max(1, batch_size // MICRO_BATCH)  # batches of 512: 8 accumulated micro-batches of 64
    keras.utils.set_random_seed(seed)
    model = compile_for(build(), optimiser, total_steps=planned or 1, accumulation=accumulation)
    run = train_for_seconds(model, x, y, seconds, batch_size // accumulation, seed=seed)
    if accumulation > 1:  # count updates of the whole batch, not micro-batches
        micro = run["steps"]
        run["steps"] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        run["micro_batches"] = micro
    return model, {"step": name, "batch_size": batch_size, "accumulation": accumulation,
                   "planned_steps": planned, **run}  # fmt: skip


# ---- the L x D sweep ---------------------------------------------------------------------------


def sweep(depths, dims, run_cell):
    """Calls ``run_cell(depth, dim)`` for each cell of the grid; returns the cells as a list of dicts.

    Each dict is ``{"depth": L, "dim": D, **run_cell(L, D)}``.

    Example:
        >>> cells = sweep([2, 4], [16, 32], lambda L, D: {"parameters": L * D})
        >>> grid(cells, "parameters")  # rows: depths, columns: dims
        array([[ 32.,  64.], [ 64., 128.]])
    """
    return [{"depth": int(L), "dim": int(D), **run_cell(L, D)} for L in depths for D in dims]


def grid(cells, key):
    """The values of ``key`` over a sweep as a (depths, dims) array, NaN where missing."""
    depths = sorted({c["depth"] for c in cells})
    dims = sorted({c["dim"] for c in cells})
    values = np.full((len(depths), len(dims)), np.nan)
    for c in cells:
        if c.get(key) is not None:
            values[depths.index(c["depth"]), dims.index(c["dim"])] = c[key]
    return values


def sweep_summary(cells, key="held_out_accuracy"):
    """The best and worst cells of a sweep, and the mean of ``key`` over each L (row) and each D (column).

    Example:
        >>> cells = sweep([2, 4], [16, 32], lambda L, D: {"acc": L / 10 + D / 100})
        >>> summary = sweep_summary(cells, "acc")
        >>> summary["best"]["depth"], summary["best"]["dim"], round(summary["by_depth"][4], 2)
        (4, 32, 0.64)
    """
    values = grid(cells, key)
    depths = sorted({c["depth"] for c in cells})
    dims = sorted({c["dim"] for c in cells})
    ranked = sorted((c for c in cells if c.get(key) is not None), key=lambda c: c[key])
    return {
        "best": ranked[-1],
        "worst": ranked[0],
        "by_depth": {L: float(np.nanmean(row)) for L, row in zip(depths, values)},
        "by_dim": {D: float(np.nanmean(column)) for D, column in zip(dims, values.T)},
    }


def sweep_parameters(depths, dims, preset="patches2x2_cifar10", **base):
    """Parameter counts of ``preset`` at each (L, D), counted by building each model."""

    def count(depth, dim):
        model = build_model(preset, **sweep_overrides(depth, dim, **base))
        parameters = model.count_params()
        keras.backend.clear_session()
        return {"parameters": int(parameters)}

    return sweep(depths, dims, count)


def plot_sweep(cells, key, title="", ax=None, fmt="{:.0%}", cmap="viridis"):
    """A heatmap of ``key`` over the L x D grid, each cell labelled with ``fmt``."""
    import matplotlib.pyplot as plt

    depths = sorted({c["depth"] for c in cells})
    dims = sorted({c["dim"] for c in cells})
    values = grid(cells, key)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * len(dims), 0.8 + 0.6 * len(depths)))
    ax.imshow(values, cmap=cmap, origin="lower", aspect="auto")
    ax.set_xticks(range(len(dims)), dims)
    ax.set_yticks(range(len(depths)), depths)
    ax.set_xlabel("D (token size)")
    ax.set_ylabel("L (blocks)")
    ax.set_title(title)
    middle = np.nanmean(values) if np.isfinite(values).any() else 0
    for i in range(len(depths)):
        for j in range(len(dims)):
            if np.isfinite(values[i, j]):
                colour = "black" if values[i, j] > middle else "white"
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=8, color=colour)
    return ax


# ---- keras.io's LSA layer and the private method it overrides ----------------------------------


def private_attention_method(name="_compute_attention"):
    """What ``keras.layers.MultiHeadAttention.<name>`` is in the installed Keras.

    keras.io's small-datasets example subclasses ``MultiHeadAttention`` and
    overrides this private method with the signature
    ``(self, query, key, value, attention_mask=None, training=None)``.

    Returns:
        ``{"exists": bool, "parameters": [names] or None}``.
    """
    method = getattr(keras.layers.MultiHeadAttention, name, None)
    if method is None:
        return {"exists": False, "parameters": None}
    return {"exists": True, "parameters": list(inspect.signature(method).parameters)}


# ---- Shifted Patch Tokenization and Locality Self-Attention, drawn ------------------------------


def shifted_views(images, patch_size):
    """The image and its four diagonal shifts by half a patch, as Shifted Patch Tokenization makes them.

    Uses :attr:`vitcourse.layers.ShiftedPatchTokenization.SHIFTS` (down, right in half
    patches), zero-filled where a shift uncovers the border.

    Returns:
        ``(views, names)``: an array (5, B, H, W, C), the unshifted image first, and
        the five views' names.
    """
    from vitcourse.layers import ShiftedPatchTokenization

    images = np.asarray(images)
    half = patch_size // 2
    height, width = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (half, half), (half, half), (0, 0)))
    views, names = [images], ["image"]
    for down, right in ShiftedPatchTokenization.SHIFTS:
        top, left = half - down * half, half - right * half
        views.append(padded[:, top : top + height, left : left + width, :])
        names.append(f"{'down' if down > 0 else 'up'}-{'right' if right > 0 else 'left'}")
    return np.stack(views), names


def lsa_weights(scores, temperature, diagonal_mask=True):
    """Attention weights of Locality Self-Attention from raw scores ``q . k``, in numpy.

    ``softmax(scores / temperature)`` over the last axis, with each token's score
    for itself removed first when ``diagonal_mask`` (the reference for exercise 7.3;
    :class:`vitcourse.layers.LocalitySelfAttention` does the same with ``keras.ops``).

    Args:
        scores: array (..., N, N) of query-key dot products.
        temperature: the softmax temperature (LSA learns it; it starts at sqrt(key_dim)).
    """
    scores = np.asarray(scores, dtype="float64") / temperature
    if diagonal_mask:
        n = scores.shape[-1]
        scores = np.where(np.eye(n, dtype=bool), -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)


# ---- the recorded runs, rendered -----------------------------------------------------------------

# What others report for SPT + LSA: their claims, not this course's measurements.
CLAIMS = (
    ("keras.io, the small datasets example", "CIFAR-100, 50 epochs", "53.1%", "56.1%", "top-1 accuracy"),
    ("Lee, Lee and Song, the SPT/LSA paper (ViT)", "CIFAR-100", "73.8%", "76.9%", "top-1 accuracy"),
)


def claims_table():
    """What keras.io and the SPT/LSA paper report, labelled as their claims."""
    return markdown_table(["Whose claim", "Data, budget", "Plain ViT", "With SPT + LSA", "Metric"],
                          [list(c) for c in CLAIMS])  # fmt: skip


def ablation_table(record):
    """Each variant's held-out accuracy over seeds: mean ± standard deviation, range, parameters."""
    rows = []
    for name, row in record["summary"].items():
        run = next(r for r in record["runs"] if r["variant"] == name)
        rows.append([name, f"{run['parameters']:,}", _mean_sd(row),
                     f"{100 * row['min']:.1f}-{100 * row['max']:.1f}%", row["seeds"]])  # fmt: skip
    return markdown_table(["Variant", "Parameters", "Held-out accuracy", "Range over seeds", "Seeds"], rows)


def ladder_table(record):
    """The ladder: each step's change, parameters, the steps and epochs its budget bought, accuracy."""
    rows = []
    for s in record["steps"]:
        rate = "" if s["images_per_second"] is None else f"{s['images_per_second']:.0f}"
        rows.append([s["step"], s["change"], f"{s['parameters']:,}", rate, s["steps"], s["batch_size"],
                     f"{s['epochs']:.2f}", _percent(s["held_out_accuracy"])])  # fmt: skip
    return markdown_table(["Step", "What changes", "Parameters", "Images/s", "Steps", "Batch", "Epochs",
                           "Held-out accuracy"], rows)  # fmt: skip


def sweep_table(record, setting):
    """One setting of the sweep as a table: held-out accuracy (parameters) per L (rows) and D (columns)."""
    cells = record["settings"][setting]["cells"]
    depths = sorted({c["depth"] for c in cells})
    dims = sorted({c["dim"] for c in cells})
    at = {(c["depth"], c["dim"]): c for c in cells}
    rows = [[f"L={L}"] + [f"{_percent(at[L, D]['held_out_accuracy'])} ({at[L, D]['parameters']:,})"
                          if (L, D) in at else None for D in dims] for L in depths]  # fmt: skip
    return markdown_table(["", *[f"D={D}" for D in dims]], rows)


def ladder_markdown(results_dir=None):
    """The recorded ladders (``results/small_data_ladder*.json``) as markdown: table, cost of the original, record."""
    parts = []
    for file, record in recorded_runs("small_data_ladder", results_dir):
        original = record["original_recipe"]
        cost = original.get("estimated_seconds_here")
        parts += [
            f"**The 2x2 patches project, fixed step by step** (`results/{file}`): {record['dataset_description']}. "
            f"Each step trains for {record['budget_seconds']:.0f} s of wall time after its first step.",
            ladder_table(record),
            ", ".join(f"{st['step']}: each update of {st['batch_size']} is {st['accumulation']} accumulated micro-batches "
                      f"of {st['batch_size'] // st['accumulation']}" for st in record["steps"]
                      if st.get("accumulation", 1) > 1) + " (the same update, with less memory)."
            if any(st.get("accumulation", 1) > 1 for st in record["steps"]) else "",
            (f"The original recipe ({original['epochs']} epochs, {original['steps']} steps of "
             f"{original['batch_size']}) would take about {cost / 3600:.1f} hours of training on this machine."
             if cost else ""),
            _record_line(record, file),
        ]  # fmt: skip
    return "\n\n".join(p for p in parts if p)


def sweep_markdown(results_dir=None):
    """The recorded sweeps (``results/small_data_sweep*.json``) as markdown: one table per setting, record."""
    parts = []
    for file, record in recorded_runs("small_data_sweep", results_dir):
        parts.append(f"**The L x D sweep** (`results/{file}`): held-out accuracy (parameters) of each cell.")
        for setting, run in record["settings"].items():
            parts += [f"*{setting}* ({run['optimiser']}, {run['epochs']} epoch(s) per cell: {run['steps']} steps "
                      f"of {run['batch_size']}):",
                      sweep_table(record, setting)]  # fmt: skip
        parts.append(_record_line(record, file))
    return "\n\n".join(parts)


def ablation_markdown(results_dir=None):
    """The recorded ablations (``results/small_data_ablation*.json``) as markdown: table and record."""
    parts = []
    for file, record in recorded_runs("small_data_ablation", results_dir):
        parts += [
            f"**SPT, LSA and a convolutional tokenizer** (`results/{file}`): {record['model']}; "
            f"{record['dataset_description']}; {record['epochs']} epochs ({record['steps']} steps of "
            f"{record['batch_size']}) each; mean ± standard deviation over {len(record['seeds'])} seeds.",
            ablation_table(record),
            _record_line(record, file),
        ]
    return "\n\n".join(parts)


def small_data_markdown(results_dir=None):
    """Chapter 07's recorded runs (``results/small_data_*.json``) as markdown, for benchmarks/README.md."""
    parts = [ladder_markdown(results_dir), sweep_markdown(results_dir), ablation_markdown(results_dir)]
    return "\n\n".join(p for p in parts if p) or (
        "No recorded run of chapter 07 here: they live in the repository's `results/` folder "
        "(`python -m benchmarks.small_data ladder|sweep|ablation`), which an installed package does not have."
    )
