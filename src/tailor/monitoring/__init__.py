"""Monitoring: drift and data quality with Evidently, and the retrain signal."""
