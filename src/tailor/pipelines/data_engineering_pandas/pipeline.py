"""The pandas data-engineering pipeline, kept as the reference the Ibis pipeline is measured
against (`kedro run --pipeline data_engineering_pandas`: the parity suite's expected
outputs, the benchmarks' baseline). Not part of ``__default__``."""

from typing import Any

import pandas as pd
from kedro.pipeline import Node, Pipeline

from tailor.live_events import merge_live_events
from tailor.pipelines.data_engineering import nodes as n
from tailor.pipelines.data_engineering import pipeline as ibis_pipeline


def validate_raw_tables(*tables: Any) -> tuple[pd.DataFrame, ...]:
    """The pandas contract on raw tables read as pandas (an Ibis table is fetched whole)."""
    *raw, sources, data_end = tables
    frames = [t if isinstance(t, pd.DataFrame) else t.to_pandas() for t in raw]
    frames = [f.drop(columns=["file_row_number", "filename"], errors="ignore") for f in frames]
    return n.validate_raw_tables(*frames, sources, data_end)


# The pandas function of each Ibis node: the nodes module's function of the same name,
# unless named here.
OWN = {"validate_raw_tables": validate_raw_tables, "merge_live_events": merge_live_events}


def create_pipeline(**kwargs: object) -> Pipeline:
    """The Ibis pipeline's graph with the pandas functions: the same nodes, inputs,
    parameters and outputs, the line tables saved straight to their datasets (pandas needs
    no ``write_*`` node to order them)."""
    dataset = {table: name for table, name, _ in ibis_pipeline.WRITTEN}
    nodes = []
    for node in ibis_pipeline.create_pipeline().nodes:
        if node.name.startswith("write_"):
            continue
        outputs = [dataset.get(o, o) for o in node.outputs]
        nodes.append(
            Node(
                OWN.get(node.name) or getattr(n, node.name),
                [dataset.get(i, i) for i in node.inputs],
                outputs[0] if len(outputs) == 1 else outputs,  # one output: not a list
                name=node.name,
            )
        )
    return Pipeline(nodes, tags="data_engineering")
