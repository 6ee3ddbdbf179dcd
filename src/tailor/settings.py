"""Kedro project settings."""

from kedro.config import OmegaConfigLoader

from tailor.hooks import NodeTimeHooks, SparkHooks, TrackingHooks

# Tracking runs around kedro-mlflow's hooks (experiment kind tag, readable run names);
# Spark starts only in environments with a spark.yml.
HOOKS = (TrackingHooks(), SparkHooks(), NodeTimeHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # kedro-mlflow reads conf/<env>/mlflow.yml; the Spark engine conf/<env>/spark.yml
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**"], "spark": ["spark*", "spark*/**"]},
    # An environment overrides single keys (e.g. only the split cutoff), not whole sections.
    # An environment's mlflow.yml need only say what differs (e.g. the experiment name).
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
