"""Benchmarks of the scheduler daemon, run from the repository root as modules.

    .venv/bin/python -m benchmarks.scheduler_bench wake
    .venv/bin/python -m benchmarks.consumer_capacity --messages 20000
    .venv/bin/python -m benchmarks.publish_rate
    .venv/bin/python -m benchmarks.report_md benchmarks/results/all-*.json

See docs/benchmarks.md. tests/benchmarks/test_smoke.py runs every scenario with tiny sizes.
"""
