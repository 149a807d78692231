"""Point-in-time features on a Dask cluster: the same `build_features`, run per partition of whole families.

Every feature of a child reads only its own family's records (child, siblings and household scopes), its
cohort and label only its own, so a table built family-partition by family-partition and put back in order
(`as_of`, then `child_id`) is the single-process table, value for value. Families are dealt to partitions
whole (`family_partitions`); the extract date is the whole extract's, never a partition's own latest date.

    with dask_client(workers=2) as client:            # a LocalCluster: 2 workers x 1 thread, memory-limited
        table = build_features_dask(extract, dates, config, client=client)
    with dask_client(address="tcp://scheduler:8786") as client:   # an existing cluster
        ...

`dask[dataframe]` and `distributed` are the optional `[region]` extra; they are imported only here, and only
when called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from features.build import build_features
from features.loaders import Extract

DEFAULT_WORKER_MEMORY = "3GiB"
# A local cluster's workers spill the data Dask manages (the feature table's partitions) to disk earlier than Dask's
# defaults (60% and 70% of the limit): training holds LightGBM's arrays beside it, which Dask cannot spill, and a
# worker passing 95% of its limit is restarted, losing the fit (seen at ten default-size councils).
LOCAL_WORKER_MEMORY = {"distributed.worker.memory.target": 0.4, "distributed.worker.memory.spill": 0.5}
# At most this many children per partition by default: a partition's build holds its families' events and
# every as-of date's intermediate columns at once (about 2 GB for a default council's 100,000 children), so a
# region is cut finer than 4 partitions per thread once that would put more children in one.
PARTITION_CHILDREN = 50_000


def _require_dask() -> None:
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the dev extra installs both
        raise UpstreamError("features on Dask need the [region] extra: pip install -e '.[region]' "
                            f"({exc.name} is missing)") from exc


def family_partitions(children: pd.DataFrame, events: pd.DataFrame, n_partitions: int) -> pd.Series:
    """A partition number for every family, balancing the work (children plus events) across partitions.

    Deterministic: families are taken largest first (ties by family_id) and each goes to the partition with
    the least work so far (ties: the lowest number). Returns a Series indexed by family_id.
    """
    if n_partitions < 1:
        raise UpstreamError(f"partitions must be at least 1, not {n_partitions}")
    work = children.groupby("family_id", sort=True).size().add(
        events.groupby("family_id", sort=True).size(), fill_value=0).astype(np.int64)
    order = sorted(work.index, key=lambda f: (-int(work[f]), f))
    load = np.zeros(n_partitions, dtype=np.int64)
    assigned: dict[str, int] = {}
    for family in order:
        part = int(np.argmin(load))
        assigned[family] = part
        load[part] += int(work[family])
    return pd.Series(assigned, name="partition", dtype=np.int64).sort_index()


def _build_piece(piece: tuple[pd.DataFrame, pd.DataFrame], *, dates: list[pd.Timestamp], config: Config,
                 extract_date: pd.Timestamp, select: Callable[[pd.DataFrame], pd.DataFrame] | None = None
                 ) -> pd.DataFrame:
    """build_features on one partition's families (children, events), then `select`; runs on a worker."""
    children, events = piece
    table = build_features(Extract(children=children, events=events), dates, config, extract_date=extract_date)
    return table if select is None else select(table)


def _meta(extract: Extract, as_of: pd.Timestamp, config: Config, extract_date: pd.Timestamp) -> pd.DataFrame:
    """The table's columns and dtypes with no rows (Dask's `meta`), from one family built at one date."""
    family = extract.children["family_id"].iloc[0]
    one = Extract(children=extract.children.loc[extract.children["family_id"] == family].reset_index(drop=True),
                  events=extract.events.loc[extract.events["family_id"] == family].reset_index(drop=True))
    return build_features(one, [as_of], config, extract_date=extract_date).iloc[0:0]


def build_features_dask(extract: Extract, as_of_dates: Sequence[pd.Timestamp], config: Config, *,
                        client: Any, extract_date: pd.Timestamp | None = None,
                        n_partitions: int | None = None) -> pd.DataFrame:
    """The feature table of `build_features`, built on the Dask cluster behind `client`.

    Parameters
    ----------
    extract : the loaded, validated extract.
    as_of_dates : month-end as-of dates.
    config : the validated config.
    client : a `distributed.Client` (see `dask_client`).
    extract_date : the extract's date; default the whole extract's latest date (never a partition's).
    n_partitions : family partitions; default 4 per worker thread, more when a partition would pass
        `PARTITION_CHILDREN` children.

    Returns
    -------
    The same DataFrame as `build_features(extract, as_of_dates, config, extract_date=extract_date)`: rows in
    (`as_of`, `child_id`) order, a fresh RangeIndex, identical columns, dtypes and values.
    """
    import dask

    table = feature_frame_dask(extract, as_of_dates, config, client=client, extract_date=extract_date,
                               n_partitions=n_partitions)
    with dask.config.set({"dataframe.convert-string": False}):
        out = client.compute(table).result()
    return _in_order(out, table._meta)


def feature_frame_dask(extract: Extract, as_of_dates: Sequence[pd.Timestamp], config: Config, *,
                       client: Any, extract_date: pd.Timestamp | None = None,
                       n_partitions: int | None = None,
                       select: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Any:
    """The feature table left on the cluster: a `dask.dataframe.DataFrame` with one partition per group of whole
    families (a family's rows never split), each partition built by `build_features` on a worker and kept there.

    What training and scoring on Dask read (`training.distributed`, `serving.distributed`); rows within a
    partition are in (`as_of`, `child_id`) order, partitions in no particular order. Parameters as
    `build_features_dask`, and `select`: applied to each partition as soon as it is built, on its worker (the
    rows and columns a caller keeps, so the whole partition is never held beside the others).
    """
    _require_dask()
    import dask
    import dask.dataframe as dd

    dates = sorted(pd.Timestamp(d).normalize() for d in as_of_dates)
    if not dates:
        raise UpstreamError("no as-of dates")
    extract_date = pd.Timestamp(extract_date).normalize() if extract_date is not None else extract.last_date
    if n_partitions is None:
        threads = sum((client.nthreads() or {1: 1}).values())
        n_partitions = max(1, 4 * threads, -(-len(extract.children) // PARTITION_CHILDREN))
    n_partitions = max(1, min(n_partitions, extract.children["family_id"].nunique()))
    parts = family_partitions(extract.children, extract.events, n_partitions)
    meta = _meta(extract, dates[0], config, extract_date)
    if select is not None:
        meta = select(meta)
    child_part = extract.children["family_id"].map(parts).to_numpy()
    event_part = extract.events["family_id"].map(parts).to_numpy()
    if pd.isna(event_part).any():
        raise UpstreamError("events of a family that has no children in the extract (validate it first)")
    # Partition i's families go once (not inside the task graph) to the i-th worker in address order, round robin,
    # and are built and kept there: the same placement on every run of a cluster of the same size, which makes a
    # Dask training repeatable (LightGBM's Dask trainer ranks the workers in the same order; training.distributed)
    workers = sorted(client.nthreads())
    built = []
    for i in range(n_partitions):
        pin = {"workers": [workers[i % len(workers)]], "allow_other_workers": False}
        piece = client.scatter([(extract.children.loc[child_part == i].reset_index(drop=True),
                                 extract.events.loc[event_part == i].reset_index(drop=True))],
                               workers=pin["workers"])[0]
        built.append(client.submit(_build_piece, piece, dates=dates, config=config, extract_date=extract_date,
                                   select=select, pure=False, **pin))
    # the partitions as one dask DataFrame, backed by the futures (the built pieces stay on their workers)
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_delayed(built, meta=meta, verify_meta=False)


def _in_order(table: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """Rows in (as_of, child_id) order with a fresh RangeIndex, columns and dtypes as the builder makes them."""
    table = table.sort_values(["as_of", "child_id"], kind="stable").reset_index(drop=True)
    return table[list(meta.columns)].astype(meta.dtypes.to_dict(), copy=False)


@contextmanager
def dask_client(address: str | None = None, *, workers: int = 2, threads_per_worker: int = 1,
                memory_limit: str = DEFAULT_WORKER_MEMORY) -> Iterator[Any]:
    """A `distributed.Client`: on an existing scheduler at `address`, or on a LocalCluster of `workers`
    processes x `threads_per_worker` threads, each limited to `memory_limit` (closed on exit, always)."""
    _require_dask()
    import dask
    from distributed import Client, LocalCluster

    if address:
        try:
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise UpstreamError(f"--cluster {address}: cannot reach a Dask scheduler there ({exc})") from exc
        try:
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise UpstreamError(f"--workers must be at least 1, not {workers}")
    with dask.config.set(LOCAL_WORKER_MEMORY), LocalCluster(
            n_workers=workers, threads_per_worker=threads_per_worker, memory_limit=memory_limit, processes=True,
            dashboard_address=":0") as cluster, Client(cluster) as client:
        client.run(_stdout_to_stderr)
        yield client


def _stdout_to_stderr() -> None:
    """In a local worker: what native code prints (LightGBM's network set-up) goes to stderr, where progress goes,
    and not into the command's own output on stdout (the workers share the terminal)."""
    import os

    os.dup2(2, 1)
