"""eqsnn benchmark suite: `python -m benchmarks --help`."""
