"""Kedro pipelines of Tailor, one package each."""
