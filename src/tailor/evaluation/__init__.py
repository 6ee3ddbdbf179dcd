"""Offline evaluation: hold-out protocol, group breakdowns, fairness audit, plots, report.

The metric definitions live in ``tailor.metrics``; this package only decides who is
evaluated, on what, and how the per-user numbers are grouped and reported.
"""
