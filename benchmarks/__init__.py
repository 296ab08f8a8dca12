"""Benchmarks of airflow-provider-orangelogic against the local stand-in (see docs/benchmarks.md).

Run everything with ``./benchmarks/run.sh`` (``--quick`` for a smoke run).
"""
