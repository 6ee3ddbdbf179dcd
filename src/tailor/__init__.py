"""Tailor: a personalization engine for online shops."""

__version__ = "0.1.0"
