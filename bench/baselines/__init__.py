"""Baselines for bench/bench_serving.py: the same numpy top-10 scoring behind bare servers."""
