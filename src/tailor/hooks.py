"""Project hooks: the Spark engine, on only in environments that have a spark.yml."""

from __future__ import annotations

import logging
import sys

from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

log = logging.getLogger(__name__)


def _spark_engine_active() -> bool:
    module = sys.modules.get("tailor.spark.session")  # never imports pyspark itself
    return bool(module and module.is_active())


def _reload_pipelines() -> None:
    """The registry reads the engine flag: make it run again (it may have run already)."""
    from kedro.framework.project import pipelines

    requested = pipelines._requested_pipelines
    pipelines.configure(pipelines._pipelines_module)
    pipelines.set_requested(requested)


class SparkHooks:
    """Start the SparkSession from ``conf/<env>/spark.yml`` before the pipelines load.

    Environments without a spark.yml (base, synthetic, …) never start a SparkSession.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        try:
            conf = context.config_loader["spark"]
        except (MissingConfigException, KeyError):
            conf = {}
        was_active = _spark_engine_active()
        if conf:
            from tailor.spark import session

            spark = session.activate(conf)
            log.info("Spark engine on: master %s", spark.sparkContext.master)
        elif was_active:
            from tailor.spark import session

            session.deactivate()
        if was_active != _spark_engine_active():
            _reload_pipelines()
