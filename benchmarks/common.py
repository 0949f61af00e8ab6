"""What every benchmark shares: where results go, and the provenance written with them.

Run the scripts from the repository root, as modules or as files:

    python -m benchmarks.throughput
    python benchmarks/throughput.py
"""

import os
import statistics
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from vitcourse.results import RESULTS_DIR, hardware_summary, hardware_tag  # noqa: E402

# Other engineers share this machine's cores. The load average counts our own
# benchmark too, so what says "busy" is the CPU time *other* processes used
# while we measured: above a quarter of the machine, the record says so.
BUSY_SHARE = 0.25
BUSY_NOTE = "the machine was busy (other work shared its cores): timings are lower bounds"


def load_average():
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _cpu_seconds():
    """(CPU seconds the whole machine has spent working, CPU seconds of this process and its children)."""
    import resource

    own = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):  # children: once they have exited
        usage = resource.getrusage(who)
        own += usage.ru_utime + usage.ru_stime
    try:
        with open("/proc/stat") as stat:
            # cpu  user nice system idle iowait irq softirq steal ...  (in clock ticks)
            ticks = [int(t) for t in stat.readline().split()[1:9]]
    except OSError:  # not Linux
        return None, own
    busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK"), own


def machine_snapshot():
    """The machine's state when a measurement starts; pass it to :func:`contention`."""
    machine, own = _cpu_seconds()
    return {"time": time.perf_counter(), "load": load_average(), "machine_cpu_s": machine, "own_cpu_s": own}


def contention(snapshot):
    """How much other work shared the machine since ``snapshot``.

    ``others_cpu_share``: CPU time used by other processes over the machine's
    capacity (wall time x cores), 0 = we had the machine to ourselves.
    """
    machine, own = _cpu_seconds()
    wall = time.perf_counter() - snapshot["time"]
    share = None
    if machine is not None and wall > 0:
        others = (machine - snapshot["machine_cpu_s"]) - (own - snapshot["own_cpu_s"])
        share = round(max(0.0, others) / (wall * os.cpu_count()), 3)
    return {
        "load_average_1min": {"before": snapshot["load"], "after": load_average()},
        "others_cpu_share": share,
        "busy": share is not None and share > BUSY_SHARE,
    }


def module_command(module, argv=None):
    """The command that reruns this benchmark from the repository root, backend included.

    e.g. ``KERAS_BACKEND=jax python -m benchmarks.equal_budget --budget-seconds 300``.
    """
    import keras

    args = shlex.join(sys.argv[1:] if argv is None else argv)
    return f"KERAS_BACKEND={keras.backend.backend()} python -m {module} {args}".strip()


def record_provenance(command, snapshot):
    """``vitcourse.provenance.provenance(command)`` plus the machine's contention since ``snapshot``
    (see :func:`contention`) and a one-line hardware summary."""
    from vitcourse.provenance import provenance

    record = provenance(command)
    shared = contention(snapshot)
    record["load_average_1min"] = shared["load_average_1min"]
    record["others_cpu_share"] = shared["others_cpu_share"]
    record["machine_busy"] = shared["busy"]
    if record["machine_busy"]:
        record["note"] = BUSY_NOTE
    record["hardware_summary"] = hardware_summary(record["hardware"])
    record["hardware_tag"] = hardware_tag(record["hardware"])
    return record


def result_path(name):
    """``results/<name>.json``."""
    return RESULTS_DIR / f"{name}.json"


def finish_seeded_record(record, name, out, started, load_seconds, provenance):
    """Ends a per-seed benchmark: adds the backend, the data-loading and wall times and the provenance
    to ``record``, writes it to ``out`` (default ``results/<name>_<hardware-tag>.json``), prints each
    row of its ``summary`` and returns it."""
    import keras

    from vitcourse.provenance import write_json

    record.update(backend=keras.backend.backend(), data_load_seconds=round(load_seconds, 1),
                  wall_time_s=round(time.perf_counter() - started, 1), provenance=provenance)  # fmt: skip
    path = write_json(out or result_path(f"{name}_{provenance['hardware_tag']}"), record)
    for row_name, row in record["summary"].items():
        print(f"{row_name:<28} {row['mean']:.3f} +- {row['stdev']}")
    print(f"wrote {path}")
    return record


def spread(values, digits=4):
    """Mean, standard deviation (None for one value), min and max of per-seed figures, and how many."""
    return {
        "mean": round(statistics.mean(values), digits),
        "stdev": round(statistics.stdev(values), digits) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
        "seeds": len(values),
    }
