"""Data engineering as Ibis expressions: one definition, run by the backend a run names.

Embedded DuckDB by default (no server, no JVM); the expressions only use Ibis' portable
operations, plus the few dialect functions of :mod:`tailor.tables.backend`.
"""
