"""A recorded run's provenance, made up for the tests of the renderers of results/ records."""


def made_up_provenance(command, **extra):
    """The provenance a benchmark script would write for ``command`` on a made-up 2-core CPU."""
    return {
        "utc_time": "2026-01-01T00:00:00+00:00",
        "hardware_summary": "2-core CPU (Test CPU)",
        "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "gpus": []},
        "backend": "tensorflow",
        "packages": {"keras": "3.15.1"},
        "git_commit": "abc123",
        "command": command,
        **extra,
    }
