"""Recorded runs: every number the book or README states is read from ``results/``.

Each recorded run is a JSON file in the repository's ``results/`` folder with
its provenance (command, versions, hardware, wall time, git commit).
"""

import json
import re
from pathlib import Path



def _results_dir():
    """``results/`` of the repository; in an installed wheel it travels as ``vitcourse/recorded/``."""
    package = Path(__file__).resolve().parent
    installed = package / "recorded"
    return installed if installed.is_dir() else package.parent / "results"


RESULTS_DIR = _results_dir()
NOT_MEASURED = "not yet measured"


def hardware_summary(hardware):
    """One line for a ``provenance.hardware()`` dict: ``"2-core CPU (Intel Xeon, avx512f+amx_bf16)"``
    (the vector extensions where the record has them) or the GPU's name."""
    gpus = [g for g in hardware.get("gpus") or [] if not g.startswith("unavailable")]
    if gpus:
        count = f"{len(gpus)}x " if len(gpus) > 1 else ""
        return f"{count}{gpus[0]}"
    cpu = re.sub(r"\((R|TM)\)", "", hardware.get("cpu", "")).strip()
    if hardware.get("cpu_features"):
        cpu += f", {hardware['cpu_features']}"
    return f"{hardware.get('cpu_cores', '?')}-core CPU ({cpu})"


def hardware_tag(hardware):
    """A file-name tag for the hardware: ``"cpu-2core"``, ``"nvidia-h100-80gb-hbm3"``."""
    gpus = [g for g in hardware.get("gpus") or [] if not g.startswith("unavailable")]
    if gpus:
        return re.sub(r"[^a-z0-9]+", "-", gpus[0].lower()).strip("-")
    return f"cpu-{hardware.get('cpu_cores', 0)}core"


def load_result(name, results_dir=None):
    """The recorded run ``results/<name>.json``, or None where it is not there (e.g. in Colab)."""
    path = Path(results_dir or RESULTS_DIR) / f"{name}.json"
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


def chapter_times(chapter):
    """{mode: seconds or NOT_MEASURED} for one chapter, from ``results/book_times.json``."""
    record = load_result("book_times") or {}
    times = {}
    for mode in ("smoke", "quick", "full"):
        run = record.get(mode, {})
        seconds = run.get("chapters", {}).get(chapter)
        times[mode] = NOT_MEASURED if seconds is None else seconds
    return times


def _run_machine(run):
    """The machine a recorded run names: its hardware summary and backend, or that it names none."""
    provenance = run.get("provenance", {})
    where = provenance.get("hardware_summary")
    if not where and provenance.get("hardware"):
        where = hardware_summary(provenance["hardware"])
    if not where:
        return "a machine the record does not name"
    backend = provenance.get("backend")
    return f"{where}, {backend}" if backend else where


def chapter_times_markdown(chapter):
    """One line: how long ``chapter`` took in each mode, each figure with the machine it was measured on.

    The figures come from ``results/book_times.json``, recorded on the machine each
    one names, which need not be the machine running the page: a page that also times
    something live names its own machine beside that figure.
    """
    record = load_result("book_times") or {}
    cells = []
    for mode, seconds in chapter_times(chapter).items():
        if seconds == NOT_MEASURED:
            cells.append(f"{mode}: {NOT_MEASURED}")
        else:
            cells.append(f"{mode}: {seconds:.0f} s on {_run_machine(record[mode])}")
    return (
        "How long this chapter took when it was recorded (`results/book_times.json`; each figure names "
        "the machine it was measured on, not necessarily this one): " + "; ".join(cells) + "."
    )


def show_chapter_times(chapter):
    """Displays :func:`chapter_times_markdown` in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(chapter_times_markdown(chapter)))


# ---------------------------------------------------------------------------
# Tables. The README's headline table, benchmarks/README.md and the chapters'
# result tables are all made here, from the JSON files in results/, never typed.

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"
GPU_HARDWARE = "one H100-class GPU, KERAS_BACKEND=jax"


def recorded_runs(prefix, results_dir=None):
    """``[(file name, record), ...]`` for ``results/<prefix>*.json``, sorted by file name."""
    results_dir = Path(results_dir or RESULTS_DIR)
    runs = []
    for path in sorted(results_dir.glob(f"{prefix}*.json")):
        with open(path) as f:
            runs.append((path.name, json.load(f)))
    return runs


def markdown_table(headers, rows):
    """A GitHub-flavoured markdown table; numbers right-aligned."""
    def cell(value):
        return NOT_MEASURED if value is None else str(value)

    lines = ["| " + " | ".join(headers) + " |"]
    aligns = ["---:" if _is_number_column(rows, i) else "---" for i in range(len(headers))]
    lines.append("|" + "|".join(aligns) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _is_number_column(rows, i):
    values = [row[i] for row in rows if row[i] is not None]
    return bool(values) and all(isinstance(v, (int, float)) for v in values)


def _percent(value):
    return None if value is None else f"{100 * value:.1f}%"


def _others(config):
    """The share of the CPU that other processes used during this measurement."""
    share = config.get("contention", {}).get("others_cpu_share")
    return "-" if share is None else f"{100 * share:.0f}%"  # "-": not recorded


def _params(count):
    return f"{count / 1e6:.2f}M"


def _on_gpu(record):
    return bool(record["provenance"]["hardware"].get("gpus"))


def _where(record):
    provenance = record["provenance"]
    busy = ", busy" if provenance.get("machine_busy") else ""
    return f"{provenance['hardware_summary']}, {provenance['backend']}{busy}"


def headline_table(results_dir=None):
    """Preset, parameters, dataset, hardware, budget, validation accuracy, training images/s.

    One row per preset of each recorded equal-budget run, then "not yet measured"
    rows for the GPU runs that have not been recorded.
    """
    headers = ["Preset", "Parameters", "Dataset", "Hardware", "Budget", "Val accuracy", "Train images/s", "Record"]
    rows, parameters = [], {}
    runs = recorded_runs("equal_budget_cifar10", results_dir)
    for file, record in runs:
        dataset = f"CIFAR-10 (JPEG copy), {record['split']['val_images']:,} val images"
        for run in record["runs"].values():
            name = recipe_label(run)
            parameters[name] = _params(run["parameters"])
            used = f"{run['train_seconds']:.0f} s used ({run['stop_reason']})"
            budget = f"{record['budget_seconds']:.0f} s of training, {used}, {run['images_seen']:,} images"
            rows.append([
                name, parameters[name], dataset, _where(record), budget,
                _percent(run["final_val_accuracy"]), run["train_images_per_second"], f"`results/{file}`",
            ])  # fmt: skip
    if not any(_on_gpu(record) for _, record in runs):
        for name in ("course_vit", "kerasio_vit"):
            dataset = "CIFAR-10 (JPEG copy), 5,000 val images"
            rows.append([name, parameters.get(name, "-"), dataset, GPU_HARDWARE, "full run", None, None, "-"])
    return markdown_table(headers, rows)


def aims_table(results_dir=None):
    """The course's aims and where they stand (only measured figures, else "not yet measured")."""
    gpu_runs = [r for _, r in recorded_runs("equal_budget_cifar10", results_dir) if _on_gpu(r)]
    time_to_90 = None
    for record in gpu_runs:
        seconds = record["runs"].get("course_vit", {}).get("time_to_accuracy_s", {}).get("90%")
        if seconds is not None:
            time_to_90 = f"{seconds / 60:.1f} min ({record['provenance']['hardware_summary']})"
    rows = [
        ["course_vit: 90% on CIFAR-10 in under 10 minutes on one H100-class GPU", time_to_90],
        ["course_vit: keras.io's final accuracy (55% top-1 on CIFAR-100, as keras.io reports) "
         "in a tenth of its compute", None],  # fmt: skip
    ]
    return markdown_table(["Aim", "Measured"], rows)


def equal_budget_table(record):
    """One recorded equal-budget run: each preset's steps, pace and accuracy."""
    headers = ["Preset", "Parameters", "Batch", "Steps", "Images seen", "Epochs of data", "Train s",
               "Train images/s", "Final val acc", "Best val acc", "To 60%", "To 80%", "To 90%",
               "Others' CPU share"]  # fmt: skip
    rows = []
    for run in record["runs"].values():
        name = recipe_label(run)
        reach = [None if s is None else f"{s:.0f} s" for s in run["time_to_accuracy_s"].values()]
        reach = [value or "not reached" for value in reach]
        rows.append([
            name, _params(run["parameters"]), run["batch_size"], run["steps"], run["images_seen"],
            run["epochs_of_data"], run["train_seconds"], run["train_images_per_second"],
            _percent(run["final_val_accuracy"]), _percent(run["best_val_accuracy"]), *reach, _others(run),
        ])  # fmt: skip
    return markdown_table(headers, rows)


def recipe_label(run):
    """``"course_vit"`` or ``"course_vit: patch_size=8, mixed_bfloat16"``: the preset and what was changed."""
    changes = [f"{field}={tuple(value) if isinstance(value, list) else value}"  # JSON keeps tuples as lists
               for field, value in run.get("changes", {}).items()]  # fmt: skip
    if run.get("dtype_policy", "float32") != "float32":
        changes.append(run["dtype_policy"])
    return run["preset"] + (": " + ", ".join(changes) if changes else "")


def recipe_table(record):
    """A recipe sweep (variants of one preset at equal budget), best final accuracy first."""
    headers = ["Recipe", "Parameters", "Batch", "Steps done / planned", "Train s", "Train images/s",
               "Epochs of data", "Final val acc", "Best val acc", "Others' CPU share"]  # fmt: skip
    runs = sorted(record["runs"].values(), key=lambda run: -run["final_val_accuracy"])
    rows = [
        [recipe_label(run), _params(run["parameters"]), run["batch_size"],
         f"{run['steps']} / {run.get('planned_steps', '?')}", run["train_seconds"],
         run["train_images_per_second"], run["epochs_of_data"], _percent(run["final_val_accuracy"]),
         _percent(run["best_val_accuracy"]), _others(run)]  # fmt: skip
        for run in runs
    ]
    return markdown_table(headers, rows)


def recipe_summary(record, file, tables="table in [benchmarks/README.md](benchmarks/README.md)"):
    """One sentence: the best recipe of a sweep against the preset as it is; ``tables``: where its table is."""
    runs = list(record["runs"].values())
    best = max(runs, key=lambda run: run["final_val_accuracy"])
    plain = [run for run in runs if recipe_label(run) == run["preset"]]
    against = ""
    if plain and plain[0] is not best:
        against = f", against {_percent(plain[0]['final_val_accuracy'])} for {plain[0]['preset']} as it is"
    return (
        f"Recipes at equal budget ({len(runs)} variants of {best['preset']}, "
        f"{record['budget_seconds']:.0f} s each, {_where(record)}): best "
        f"{_percent(best['final_val_accuracy'])} validation accuracy with `{recipe_label(best)}`{against} "
        f"(`results/{file}`, {tables})."
    )


def equal_budget_curve_table(record):
    """Validation accuracy at each evaluation, every preset side by side (by evaluation number)."""
    names = list(record["runs"])
    curves = [record["runs"][name]["evaluations"] for name in names]
    labels = [recipe_label(record["runs"][name]) for name in names]
    headers = ["Evaluation"] + [f"{label}: train s / val acc" for label in labels]
    rows = []
    for i in range(max(len(c) for c in curves)):
        row = [i + 1]
        for curve in curves:
            point = curve[i] if i < len(curve) else None
            row.append(f"{point['elapsed_s']:.0f} s / {_percent(point['val_accuracy'])}" if point else "")
        rows.append(row)
    return markdown_table(headers, rows)


def throughput_table(record):
    """Training images/s, compile time and peak memory, one row per configuration."""
    headers = ["Preset", "Backend", "Batch", "jit_compile", "Augmentation", "Train images/s", "First step s",
               "Pipeline alone images/s", "Peak RSS MiB", "Device peak MiB", "Others' CPU share"]  # fmt: skip
    rows = []
    for r in record["configurations"]:
        where = "none" if r["augmentation"] == "none" else f"in {r['augmentation']}"
        settings = [r["preset"], r["backend"], r["batch_size"], r["jit_compile"], where]
        if "error" in r:
            rows.append(settings + [f"failed: {r['error'][:80]}", "-", "-", "-", "-", _others(r)])
            continue
        device_peak = r["device_peak_mib"] if r["device_peak_mib"] is not None else "n/a (CPU)"
        rows.append(settings + [
            r["train_images_per_second"], r["first_step_s"], r["pipeline_alone_images_per_second"],
            r["peak_rss_mib"], device_peak, _others(r),
        ])  # fmt: skip
    return markdown_table(headers, rows)


def _no_peak(record, row):
    if not row.get("device", "CPU").upper().startswith("CPU"):
        return "n/a (peak of this device not in the table)"
    if not record.get("cpu_peak"):
        return "n/a (no CPU peak in this record)"
    return "n/a (a CPU's bfloat16 peak is not modelled)" if row["mixed_precision"] else "n/a"


def gpu_efficiency_table(records):
    """Achieved FLOP/s and share of peak per configuration; a "not yet measured" GPU row if none."""
    headers = ["Preset", "Hardware", "Backend", "Batch", "Precision", "Attention", "Train images/s",
               "Achieved TFLOP/s", "Share of peak", "Others' CPU share"]  # fmt: skip
    rows = []
    for record in records:
        for r in record["configurations"]:
            precision = "mixed_bfloat16" if r["mixed_precision"] else "float32"
            settings = [record["preset"], record["provenance"]["hardware_summary"], r["backend"], r["batch_size"],
                        precision]  # fmt: skip
            settings.append(r["attention"])
            if "error" in r:
                rows.append(settings + [f"failed: {r['error'][:80]}", "-", "-", _others(r)])
                continue
            share = _percent(r["share_of_peak"]) if r["share_of_peak"] is not None else _no_peak(record, r)
            achieved = f"{r['achieved_tflops']:.3g}"
            rows.append(settings + [r["train_images_per_second"], achieved, share, _others(r)])
    if not any(_on_gpu(record) for record in records):
        rows.append(["course_vit", GPU_HARDWARE, "jax", "-", "mixed_bfloat16", "auto", None, None, None, "-"])
    return markdown_table(headers, rows)


def book_times_table(record):
    """Seconds per chapter in each mode, and the total."""
    modes = [m for m in ("smoke", "quick", "full") if m in record] or ["smoke"]
    chapters = sorted({c for m in modes for c in record[m].get("chapters", {})})
    rows = []
    for chapter in chapters:
        row = [chapter]
        for mode in modes:
            seconds = record[mode].get("chapters", {}).get(chapter)
            row.append(round(seconds, 1) if isinstance(seconds, (int, float)) else None)
        rows.append(row)
    total = ["**total**"]
    for mode in modes:
        run = record[mode]
        missing = len(run.get("not_measured", {}))
        seconds = run.get("total")
        if not isinstance(seconds, (int, float)):
            total.append(None)
        elif missing:  # the chapters that could not run are not in the total
            total.append(f"{seconds:.1f} (without the {missing} not measured)")
        else:
            total.append(round(seconds, 1))
    rows.append(total)
    return markdown_table(["Chapter"] + [f"{m} s" for m in modes], rows)


def _machine_short(record):
    """``"2-core CPU, tensorflow"`` or ``"NVIDIA H100 80GB HBM3, jax"``: a table cell."""
    provenance = record["provenance"]
    where = re.sub(r" \(.*\)$", "", provenance["hardware_summary"])
    return f"{where}, {provenance['backend']}"


def _highest_mark(run):
    """``"60% after 491 s"``: the highest accuracy mark a run passed, and when; ``"below 60%"`` if none."""
    marks = run.get("time_to_accuracy_s", {})
    reached = [(mark, seconds) for mark, seconds in marks.items() if seconds is not None]
    if reached:
        mark, seconds = reached[-1]
        return f"{mark} after {seconds:.0f} s"
    return f"below {next(iter(marks))}" if marks else "-"


def measured_table(record):
    """The main figures of one recorded run in six columns: what a reader compares."""
    headers = ["Recipe", "Val accuracy", "Highest mark reached", "Images seen", "Train images/s", "Hardware"]
    runs = sorted(record["runs"].values(), key=lambda run: -run["final_val_accuracy"])
    rows = [
        [recipe_label(run), _percent(run["final_val_accuracy"]), _highest_mark(run), f"{run['images_seen']:,}",
         run["train_images_per_second"], _machine_short(record)]  # fmt: skip
        for run in runs
    ]
    return markdown_table(headers, rows)


def measured_details(record, file):
    """What stands behind :func:`measured_table`, for a dropdown: six columns at most, then the provenance."""
    runs = sorted(record["runs"].values(), key=lambda run: -run["final_val_accuracy"])
    steps = markdown_table(
        ["Recipe", "Parameters", "Batch", "Steps done / planned", "Epochs of data", "Best val acc"],
        [[recipe_label(run), _params(run["parameters"]), run["batch_size"],
          f"{run['steps']} / {run.get('planned_steps', '?')}", run["epochs_of_data"],
          _percent(run["best_val_accuracy"])] for run in runs],
    )  # fmt: skip
    reach = markdown_table(
        ["Recipe", "Train s", *[f"To {t}" for t in runs[0]["time_to_accuracy_s"]], "Others' CPU share"],
        [[recipe_label(run), run["train_seconds"],
          *[value or "not reached" for value in
            (None if s is None else f"{s:.0f} s" for s in run["time_to_accuracy_s"].values())],
          _others(run)] for run in runs],
    )  # fmt: skip
    provenance = record["provenance"]
    return "\n\n".join([
        f"Budget: {record['budget_seconds']:.0f} s of training per recipe "
        f"({record.get('budget_counts', 'training time')}); "
        f"{record['split']['val_images']:,} validation images.",
        steps,
        reach,
        f"Record: `results/{file}`, {provenance['utc_time']}, on {provenance['hardware_summary']} "
        f"({provenance['backend']}, Keras {provenance['packages'].get('keras')}), commit `{provenance['git_commit']}`.",
        f"Command: `{provenance['command']}`",
    ])  # fmt: skip


def _dropdown(title, body):
    """A MyST dropdown (the book folds it; Colab shows it as a readable block).

    The title holds no backtick: CommonMark ends a backtick fence's info string at one.
    """
    if "`" in title:
        raise ValueError(f"A dropdown title cannot hold a backtick: {title!r}")
    return f"```{{dropdown}} {title}\n{body}\n```"


def measured_markdown(results_dir=None):
    """The equal-budget runs and recipe sweeps recorded in ``results/``, as markdown for a chapter.

    Each run: one sentence, a narrow table of its main figures, and its details
    (steps, parameters, timings, record, command, commit) behind a dropdown.
    """
    parts = []
    for file, record in recorded_runs("equal_budget_cifar10", results_dir):
        labels = [recipe_label(run) for run in record["runs"].values()]
        each = " each" if len(labels) > 1 else ""
        parts += [
            f"**{' vs '.join(labels)}**, {record['budget_seconds']:.0f} s of training{each}, "
            f"{_where(record)} (`results/{file}`):",
            measured_table(record),
            _dropdown(f"Details: results/{file}", measured_details(record, file)),
        ]
    for file, record in recorded_runs("recipe_sweep_cifar10", results_dir):
        parts += [
            recipe_summary(record, file, tables="table below"),
            measured_table(record),
            _dropdown(f"Details: results/{file}", measured_details(record, file)),
        ]
    if not parts:
        return (
            "No recorded benchmarks here: they live in the repository's `results/` folder, which an "
            "installed package (as in Colab) does not have. See `benchmarks/README.md` in the repository."
        )
    return "\n\n".join(parts)


def readme_section(results_dir=None):
    """What the README shows between its results markers."""
    parts = [
        "<!-- generated by `python -m benchmarks.tables --write-readme` from results/; do not edit by hand -->",
        "",
        "Accuracy at equal training time (see [benchmarks/README.md](benchmarks/README.md) for how each was run):",
        "",
        headline_table(results_dir),
        "",
        aims_table(results_dir),
    ]
    for file, record in recorded_runs("recipe_sweep_cifar10", results_dir):
        parts += ["", recipe_summary(record, file)]
    book = (load_result("book_times", results_dir) or {}).get("smoke")
    if book and isinstance(book.get("total"), (int, float)):
        where = book.get("provenance", {}).get("hardware_summary", "")
        chapters = f"{len(book['chapters'])} chapters"
        if book.get("not_measured"):
            chapters += f"; {len(book['not_measured'])} failed and are not counted"
        parts += ["", f"The book in smoke mode (as CI runs it): {book['total']:.0f} s for {chapters}, on {where}."]
    return "\n".join(parts) + "\n"


def replace_section(text, section, start=README_START, end=README_END):
    """``text`` with everything between the ``start`` and ``end`` markers replaced by ``section``."""
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found_start and found_end):
        raise ValueError(f"The markers {start} and {end} are not both in the text.")
    return f"{head}{start}\n{section}{end}{tail}"


def section_between(text, start=README_START, end=README_END):
    """What lies between the markers (without them), or None where they are missing."""
    _, found_start, rest = text.partition(start)
    section, found_end, _ = rest.partition(end)
    if not (found_start and found_end):
        return None
    return section.removeprefix("\n")


# ---- chapter 09: transfer in miniature and weight averaging ----------------------------------


def _mean_sd(row):
    """``"61.2% ± 1.3"``: a summary row's mean and its standard deviation over seeds, in points."""
    if row.get("mean") is None:
        return None
    sd = "" if row.get("stdev") is None else f" ± {100 * row['stdev']:.1f}"
    return f"{100 * row['mean']:.1f}%{sd}"


def _range(row):
    if row.get("min") is None:
        return None
    return f"{100 * row['min']:.1f}-{100 * row['max']:.1f}%"


def _record_line(record, file):
    provenance = record["provenance"]
    busy = " The machine was busy during the run (other work shared its cores)." if provenance.get("machine_busy") else ""
    return (
        f"Record: `results/{file}`, {provenance['utc_time']}, on {provenance['hardware_summary']} "
        f"({provenance['backend']}, Keras {provenance['packages'].get('keras')}), commit "
        f"`{provenance['git_commit']}`, {record['wall_time_s']:.0f} s in all.{busy}\n\n"
        f"Command: `{provenance['command']}`"
    )


def transfer_table(record):
    """Fine-tuned, linear probe and from scratch at equal steps: held-out accuracy over seeds."""
    headers = ["Method", "Trainable parameters", "Held-out accuracy", "Range over seeds", "Seeds", "Hardware"]
    rows = []
    for method, row in record["summary"].items():
        run = next(r for r in record["runs"] if r["method"] == method)
        rows.append([method, f"{run['trainable_parameters']:,}", _mean_sd(row), _range(row), row["seeds"],
                     _machine_short(record)])  # fmt: skip
    return markdown_table(headers, rows)


def transfer_details(record, file):
    """Every run behind :func:`transfer_table`, the pretraining, the record and its command."""
    source = record["pretraining"]
    runs = markdown_table(
        ["Method", "Seed", "Peak learning rate", "Final train accuracy", "Held-out accuracy", "Train s"],
        [[r["method"], r["seed"], r["learning_rate"], _percent(r["final_train_accuracy"]),
          _percent(r["held_out_accuracy"]), r["train_seconds"]] for r in record["runs"]],
    )  # fmt: skip
    return "\n\n".join([
        f"Pretraining: {record['model']}, {source['train_images']:,} images of {', '.join(source['classes'])}, "
        f"{source['epochs']} epochs ({source['steps']} steps of {source['batch_size']}), "
        f"{_percent(source['held_out_accuracy'])} on {source['held_out_images']:,} held-out images of those classes.",
        f"Fine-tuning data: {record['target_train_images']} images of {', '.join(record['target_classes'])} "
        f"({record['target_subset']}); {record['equal_budget']}; {record['schedule']}. Measured on "
        f"{record['held_out_images']:,} held-out images of these classes. Each seed sets "
        f"{record['seed_controls']}.",
        runs,
        _record_line(record, file),
    ])  # fmt: skip


def transfer_markdown(results_dir=None):
    """The recorded transfer runs (``results/transfer_cifar10*.json``) as markdown for chapter 09."""
    parts = []
    for file, record in recorded_runs("transfer_cifar10", results_dir):
        parts += [
            f"**Transfer in miniature**, recorded on {_where(record)} (`results/{file}`): accuracy on "
            f"{record['held_out_images']:,} held-out images of the five new classes after "
            f"{record['equal_budget']}, mean ± standard deviation over {len(record['seeds'])} seeds.",
            transfer_table(record),
            _dropdown(f"Details: results/{file}", transfer_details(record, file)),
        ]
    return "\n\n".join(parts) or (
        "No recorded transfer run here: it lives in the repository's `results/` folder "
        "(`python -m benchmarks.transfer`), which an installed package does not have."
    )


def weight_averaging_table(record):
    """Best single checkpoint, averages of checkpoints, and the average of two separate runs."""
    headers = ["Weights", "Held-out accuracy", "Range", "Runs", "Hardware"]
    rows = []
    for name, row in record["summary"].items():
        count = row.get("seeds") or row.get("pairs")
        what = f"{count} seed{'s' * (count != 1)}" if "seeds" in row else f"{count} pair{'s' * (count != 1)} of seeds"
        rows.append([name, _mean_sd(row), _range(row), what, _machine_short(record)])
    return markdown_table(headers, rows)


def weight_averaging_details(record, file):
    """Each seed's checkpoints and averages, the pairs of runs, the record and its command."""
    names = [name for name in record["summary"] if name != "average of two separate runs"]
    per_seed = markdown_table(
        ["Seed", "Best epochs (selection)", *names],
        [[r["seed"], ", ".join(map(str, r["best_epochs"])), *[_percent(r["report_accuracy"][n]) for n in names]]
         for r in record["runs"]],
    )  # fmt: skip
    pairs = markdown_table(
        ["Seeds averaged", "Averaged model", "First alone", "Second alone"],
        [[" and ".join(map(str, p["seeds"])), _percent(p["report_accuracy"]), _percent(p["alone"][0]),
          _percent(p["alone"][1])] for p in record["across_runs"]],
    )  # fmt: skip
    return "\n\n".join([
        f"{record['model']}; {record['dataset_description']}. {record['epochs']} epochs of "
        f"{record['steps_per_epoch']} steps (batch {record['batch_size']}); {record['schedule']}; "
        f"checkpoints: {record['checkpoints']}. Each seed sets {record['seed_controls']}.",
        per_seed,
        pairs,
        _record_line(record, file),
    ])  # fmt: skip


def weight_averaging_markdown(results_dir=None):
    """The recorded weight-averaging runs (``results/weight_averaging_cifar10*.json``) as markdown."""
    parts = []
    for file, record in recorded_runs("weight_averaging_cifar10", results_dir):
        parts += [
            f"**Weight averaging**, recorded on {_where(record)} (`results/{file}`): accuracy on held-out "
            f"images that neither training nor the choice of checkpoints saw, mean ± standard deviation.",
            weight_averaging_table(record),
            _dropdown(f"Details: results/{file}", weight_averaging_details(record, file)),
        ]
    return "\n\n".join(parts) or (
        "No recorded weight-averaging run here: it lives in the repository's `results/` folder "
        "(`python -m benchmarks.weight_averaging`), which an installed package does not have."
    )
