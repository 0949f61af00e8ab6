"""Where a number came from: the command, the commit, the software and the hardware.

Every result the book states is written next to ``provenance()``, so a page can
say which run produced it (convention 6 in ``STYLE.md``).

Example:

    from vitcourse.provenance import provenance, write_json

    record = provenance()  # {"command": ..., "git_commit": ..., "hardware": {...}, ...}
    write_json("runs/example/provenance.json", record)
"""

import datetime
import importlib.metadata
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

# Distribution names to look up, by the name we report. The first one that is
# installed wins: ``tensorflow-cpu`` installs the ``tensorflow`` module.
_DISTRIBUTIONS = {
    "keras": ("keras", "keras-nightly"),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
    "jax": ("jax",),
    "jaxlib": ("jaxlib",),
    "torch": ("torch",),
    "numpy": ("numpy",),
}


def package_versions():
    """Installed versions of the packages a result depends on (missing ones left out).

    Reads package metadata only, so nothing heavy is imported.
    """
    versions = {}
    for name, distributions in _DISTRIBUTIONS.items():
        for distribution in distributions:
            try:
                versions[name] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def _git(*args):
    # The repository that holds this package, wherever the command was started.
    repo = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit():
    """``git rev-parse HEAD`` of the package's repository, ``+dirty`` if it has changes.

    ``"unknown"`` outside a repository, without git, or before the first commit.
    """
    head = _git("rev-parse", "HEAD")
    if not head or not head.strip():
        return "unknown"
    status = _git("status", "--porcelain")
    return head.strip() + ("+dirty" if status and status.strip() else "")


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def read_cpuinfo():
    """The text of /proc/cpuinfo, or None where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            return file.read()
    except OSError:
        return None


def widest_vector_isa(flags):
    """The widest float32 vector extension among a CPU's ``flags``: avx512f, avx2, avx, else sse."""
    return next((f for f in ("avx512f", "avx2", "avx") if f in flags), "sse")


def cpu_features(cpuinfo=None):
    """The CPU's widest float32 vector extension and its bfloat16 units, from /proc/cpuinfo's flags.

    ``"avx2"``, ``"avx512f+avx512_bf16"``, ``"avx512f+amx_bf16"``; None where the
    flags cannot be read (not Linux). ``cpuinfo``: the file's text (default: read it).
    """
    cpuinfo = read_cpuinfo() if cpuinfo is None else cpuinfo
    if cpuinfo is None:
        return None
    line = next((line for line in cpuinfo.splitlines() if line.lower().startswith("flags")), None)
    if line is None:
        return None
    flags = set(line.split(":", 1)[1].split())
    return "+".join([widest_vector_isa(flags)] + [f for f in ("avx512_bf16", "amx_bf16") if f in flags])


def _memory_gib():
    try:
        total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None
    return round(total_bytes / 2**30, 1)


def _usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count()


def gpu_names(backend=None):
    """Names of the accelerators the Keras backend sees; ``[]`` on a CPU-only machine."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return [d.device_kind for d in jax.devices() if d.platform != "cpu"]
        if backend == "tensorflow":
            import tensorflow as tf

            names = []
            for device in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(device)
                names.append(details.get("device_name", device.name))
            return names
        if backend == "torch":
            import torch

            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            return [torch.cuda.get_device_name(i) for i in range(count)]
    except Exception as error:  # a broken driver must not lose the run's record
        return [f"unavailable ({type(error).__name__}: {error})"]
    return []


def hardware(backend=None):
    """CPU model and vector extensions, usable cores, memory and accelerators of this machine."""
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_cores": _usable_cores(),
        "memory_gib": _memory_gib(),
        "gpus": gpu_names(backend),
    }


def _run_mode():
    from vitcourse.config import run_mode

    try:
        return run_mode()
    except ValueError as error:
        return f"invalid ({error})"


def provenance(command=None):
    """A JSON-ready record of how and where a result was produced.

    Args:
        command: the command that produced the result, as a string or a list of
            arguments. Default: this process's command line.

    Returns:
        A dict with ``command``, ``utc_time``, ``git_commit``, ``python``,
        ``packages``, ``backend``, ``hardware`` and ``run_mode``.
    """
    import keras

    if command is None:
        command = [Path(sys.executable).name, *sys.argv]
    if not isinstance(command, str):
        command = shlex.join(str(part) for part in command)
    backend = keras.backend.backend()
    return {
        "command": command,
        "utc_time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "backend": backend,
        "hardware": hardware(backend),
        "run_mode": _run_mode(),
    }


def _to_json(value):
    # numpy scalars and arrays, paths: what training code tends to hand over.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__fspath__"):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")


def _finite(value):
    # NaN and infinity are not JSON; a diverged loss is written as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_json(path, obj):
    """Write ``obj`` as JSON to ``path`` atomically: a reader sees the old file or the new one.

    Creates missing parent folders. Numpy values become plain numbers, NaN and
    infinity become ``null``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(json.loads(json.dumps(obj, default=_to_json))), indent=2)
    # The temporary file sits beside the target: os.replace is atomic within a file system.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
