"""Large synthetic worlds written in chunks of users, never held whole in memory.

``generate`` builds every table of a world at once (50M events need ~45 GiB). Here the
items are generated once from the base seed and shared; each chunk of users then has its
own generator, seeded from (base seed, chunk index), and its users, orders and sessions
are numbered after the previous chunk's, so ids stay unique across the world. Every table
becomes a directory of Parquet parts (``<table>.parquet/part-00000.parquet`` …) that
pandas (pyarrow) and Spark both read as one table. The first chunk continues the base
seed's stream, as ``generate`` does, so a world of one chunk is exactly ``generate``'s; a
world of several chunks is of the same kind and size, from other random streams.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tailor.synthetic.generator import GeneratorConfig, generate_items, generate_users

USER_TABLES = ("users", "events", "email", "transactions", "truth")


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of chunk ``chunk`` >= 1: independent streams for every (seed, chunk) pair."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def write_chunked(
    config: GeneratorConfig | dict[str, Any], directory: str | Path, users_per_chunk: int
) -> dict[str, int]:
    """Write the world of ``config`` under ``directory``; return the rows per table.

    Peak memory is that of one chunk. The directory is written under a temporary name and
    renamed when complete, so a stopped run never leaves a half world that looks whole.
    """
    if users_per_chunk < 1:
        raise ValueError(f"users_per_chunk must be at least 1, got {users_per_chunk}")
    cfg = GeneratorConfig.from_dict(config) if isinstance(config, dict) else config
    out = Path(directory)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    base_rng = np.random.default_rng(cfg.seed)
    item_world = generate_items(cfg, base_rng)
    _write_part(tmp, "items", 0, item_world.items, {})
    rows = {"items": len(item_world.items), **{t: 0 for t in USER_TABLES}}
    schemas: dict[str, pa.Schema] = {}
    users = orders = sessions = 0
    for chunk, first in enumerate(range(0, cfg.n_users, users_per_chunk)):
        part_cfg = dataclasses.replace(cfg, n_users=min(users_per_chunk, cfg.n_users - first))
        seed = cfg.seed if chunk == 0 else chunk_seed(cfg.seed, chunk)
        world = generate_users(
            part_cfg,
            base_rng if chunk == 0 else np.random.default_rng(seed),
            item_world,
            sample_seed=seed,
            user_offset=users,
            order_offset=orders,
            session_offset=sessions,
        )
        for table, frame in world.tables.items():
            _write_part(tmp, table, chunk, frame, schemas)
            rows[table] += len(frame)
        users += part_cfg.n_users
        orders += world.n_orders
        sessions += world.n_sessions
        del world
    manifest = {"generator": dataclasses.asdict(cfg), "users_per_chunk": users_per_chunk}
    (tmp / "config.json").write_text(json.dumps({**manifest, "rows": rows}, indent=2, default=str))
    (tmp / "_SUCCESS").touch()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return rows


def _write_part(
    root: Path, table: str, chunk: int, frame: pd.DataFrame, schemas: dict[str, pa.Schema]
) -> None:
    """One Parquet part; every part of a table has the first part's schema."""
    folder = root / f"{table}.parquet"
    folder.mkdir(exist_ok=True)
    arrow = pa.Table.from_pandas(frame, schema=schemas.get(table), preserve_index=False)
    schemas.setdefault(table, arrow.schema)
    pq.write_table(arrow, folder / f"part-{chunk:05d}.parquet")
