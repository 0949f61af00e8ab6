"""The course's benchmarks: each script writes one recorded run into ``results/``.

See ``benchmarks/README.md`` for the command behind every figure.
"""
