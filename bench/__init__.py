"""On-demand benchmarks: real servers, real load, printed numbers (never timed tests)."""
