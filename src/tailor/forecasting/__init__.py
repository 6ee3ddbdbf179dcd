"""Demand forecasting, next-purchase timing and replenishment (the `forecasting` pipeline)."""
