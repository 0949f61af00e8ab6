"""How long each chapter takes: every notebook top to bottom in a fresh kernel, timed.

    python -m benchmarks.book_times                      # smoke mode, as CI and `make book` run it
    python -m benchmarks.book_times --modes smoke quick  # quick mode too (needs the real datasets)
    python -m benchmarks.book_times --chapters 01_patches --out /tmp/t.json  # one chapter, elsewhere

Each chapter runs with nbclient in a new ``python3`` kernel, with
``VITCOURSE_MODE`` set, the kernel's start-up and imports included (as in CI).
A chapter that fails (e.g. quick mode needs CIFAR, which cannot be downloaded
offline) is listed under ``not_measured`` with the error, never given a time.

Writes ``results/book_times.json``: ``{mode: {"chapters": {name: seconds}, "total",
"not_measured", "wall_time_s", "provenance"}}``. A mode that is run is recorded
afresh (with ``--chapters``, only those chapters); the other modes keep their
earlier record. ``vitcourse.results.show_chapter_times`` reads it.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import ROOT, machine_snapshot, module_command, record_provenance, result_path

CHAPTERS = ROOT / "chapters"


def run_notebook(path, mode, timeout):
    """Seconds to execute ``path`` in a fresh kernel, or the error that stopped it."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ, VITCOURSE_MODE=mode)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    try:
        client.execute(env=env)  # the kernel's environment: this process's, with the mode set
    except Exception as error:  # CellExecutionError, a timeout, a dead kernel
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # tracebacks come with terminal colours
        lines = [line for line in text.strip().splitlines() if line.strip()]
        return None, f"{type(error).__name__}: {lines[-1] if lines else ''}"[:300]
    return round(time.perf_counter() - started, 1), None


def time_mode(mode, notebooks, timeout):
    snapshot = machine_snapshot()
    started = time.perf_counter()
    chapters, not_measured = {}, {}
    for path in notebooks:
        seconds, error = run_notebook(path, mode, timeout)
        if error:
            not_measured[path.stem] = error
            print(f"{mode:5s} {path.stem:28s} not measured: {error}", flush=True)
        else:
            chapters[path.stem] = seconds
            print(f"{mode:5s} {path.stem:28s} {seconds:7.1f} s", flush=True)
    provenance = record_provenance(module_command("benchmarks.book_times"), snapshot)
    return {
        "chapters": chapters,
        "total": round(sum(chapters.values()), 1),
        "complete": not not_measured,
        "not_measured": not_measured,
        "wall_time_s": round(time.perf_counter() - started, 1),
        "provenance": provenance,
        **({"note": provenance["note"]} if provenance.get("note") else {}),
    }


def main(argv=None):
    import json

    from vitcourse.provenance import write_json

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", nargs="+", default=["smoke"], choices=["smoke", "quick", "full"])
    parser.add_argument("--chapters", nargs="+", help="notebook names without .ipynb (default: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    parser.add_argument("--out", default=str(result_path("book_times")))
    args = parser.parse_args(argv)

    notebooks = sorted(CHAPTERS.glob("*.ipynb"))
    if args.chapters:
        notebooks = [p for p in notebooks if p.stem in args.chapters]
    out = Path(args.out)
    record = json.loads(out.read_text()) if out.exists() else {}
    for mode in args.modes:
        record[mode] = time_mode(mode, notebooks, args.timeout)
        print(f"{mode}: total {record[mode]['total']} s", flush=True)
    write_json(out, record)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
