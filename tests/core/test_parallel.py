"""deblur.parallel: the local process pool, Dask's LocalCluster and a running scheduler give the outcomes
of a serial run; a failing task and a dying worker are reported while the others finish."""

from __future__ import annotations

import os
import pickle

import pytest

from deblur import parallel
from deblur.errors import InputError
from deblur.parallel import Failure, Job, ProcessPool, WorkerDied, Workers, each_done

needs_dask = pytest.mark.skipif(not parallel.has_dask(), reason="needs deblur-core[distributed]")


def square(n: int) -> int:
    return n * n


def fragile(n: int) -> int:
    """``n * n``, but raises on 2 and kills its own process on 3."""
    if n == 2:
        raise ValueError("two is refused\nsecond line")
    if n == 3:
        os._exit(7)
    return n * n


def threads(_: int) -> int:
    import torch

    return torch.get_num_threads()


def outcomes(job, tasks, workers: Workers) -> dict:
    return {i: o.error if isinstance(o, Failure) else o for i, o in each_done(job, tasks, workers)}


@pytest.fixture
def pool_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--workers`` as without the distributed extra: the standard library's processes."""
    monkeypatch.setattr(parallel, "has_dask", lambda: False)


def test_the_pool_replaces_a_dead_worker_and_fails_only_its_task() -> None:
    pool = ProcessPool(2)
    try:
        futures = [pool.submit(fragile, n) for n in (0, 1, 3, 4, 5)]
        with pytest.raises(WorkerDied, match="exit code 7"):
            futures[2].result()
        assert [f.result() for i, f in enumerate(futures) if i != 2] == [0, 1, 16, 25]
        with pytest.raises(ValueError, match="two is refused"):
            pool.submit(fragile, 2).result()
        assert pool.submit(square, 9).result() == 81, "the pool still serves after a death"
        with pytest.raises(Exception, match="pickle"):
            pool.submit(square, lambda: 0).result(timeout=60)  # refused, not hung
        assert pool.submit(square, 3).result() == 9
    finally:
        pool.shutdown()


def test_serial_runs_here_and_reports_what_raised() -> None:
    seen = []
    got = outcomes(lambda n: seen.append(n) or fragile(n), [0, 1, 2, 4], Workers())
    assert seen == [0, 1, 2, 4], "in order, in this process (a lambda need not pickle)"
    assert got == {0: 0, 1: 1, 2: "ValueError: two is refused", 3: 16}


def test_local_pool_matches_serial_and_reports_a_lost_worker(pool_only: None) -> None:
    got = outcomes(fragile, [0, 1, 2, 3, 4, 5], Workers(2))
    assert got[2] == "ValueError: two is refused"
    assert got[3].startswith("its worker process was lost (WorkerDied: exit code 7")
    assert {i: got[i] for i in (0, 1, 4, 5)} == {0: 0, 1: 1, 4: 16, 5: 25}
    assert set(outcomes(threads, [0, 1], Workers(2, threads=1)).values()) == {1}


@needs_dask
def test_local_cluster_matches_serial_and_reports_a_lost_worker() -> None:
    got = outcomes(fragile, [0, 1, 2, 3, 4, 5], Workers(2))
    assert got[2] == "ValueError: two is refused"
    assert got[3].startswith("its worker process was lost (KilledWorker")
    assert {i: got[i] for i in (0, 1, 4, 5)} == {0: 0, 1: 1, 4: 16, 5: 25}


def length(data: bytes) -> int:
    return len(data)


@needs_dask
def test_a_photo_sized_task_is_sent_without_dask_s_large_graph_advice() -> None:
    """Each task carries its own image once; Dask's warning (meant for data repeated across tasks) would
    print a screen of advice for every photo."""
    import warnings

    photo = bytes(16 * 2**20)  # a 2000 x 2000 colour photo in float32 is 48 MB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert outcomes(length, [photo, photo], Workers(2)) == {0: len(photo), 1: len(photo)}


def test_workers_are_checked_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="--workers must be a positive integer, got 0"):
        Workers(0)
    with pytest.raises(InputError, match="--threads must be a positive integer"):
        Workers(2, threads=0)
    with pytest.raises(InputError, match="give one of them"):
        Workers(2, scheduler="tcp://127.0.0.1:1")
    monkeypatch.setattr(parallel, "has_dask", lambda: False)
    with pytest.raises(InputError, match=r"pip install 'deblur-core\[distributed\]'"):
        Workers(scheduler="tcp://127.0.0.1:1")


@needs_dask
def test_an_unreachable_scheduler_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT", 1)
    with pytest.raises(InputError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        list(each_done(square, [1], Workers(scheduler="tcp://127.0.0.1:9")))


def test_threads_per_worker_and_the_description() -> None:
    assert Workers(2, threads=3).threads_each() == 3
    assert Workers(2).threads_each() == max(1, parallel.cores() // 2)
    assert Workers().threads_each() is None, "torch's choice in this process"
    if parallel.has_dask():
        assert Workers(scheduler="tcp://x:1").threads_each() == 1
        assert Workers(scheduler="tcp://x:1", threads=4).threads_each() == 4
    assert Workers(2, threads=1).describe() == "on 2 local workers, 1 thread each"


class Holder(Job):
    local = ("here",)

    def __init__(self) -> None:
        self.here, self.kept = object(), 5


def test_a_job_leaves_its_local_fields_behind() -> None:
    again = pickle.loads(pickle.dumps(Holder()))
    assert again.here is None and again.kept == 5


@needs_dask
def test_the_nanny_preload_gives_cluster_workers_the_local_settings() -> None:
    from types import SimpleNamespace

    import dask

    nanny = SimpleNamespace(
        env={"MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"},
        pre_spawn_env={"MALLOC_TRIM_THRESHOLD_": "65536"},
        config=dask.config.merge(dask.config.config, {}),
    )
    parallel.dask_setup(nanny)
    assert nanny.env == {"OMP_NUM_THREADS": "1"} and nanny.pre_spawn_env == {}
    assert nanny.config["distributed"]["worker"]["profile"]["enabled"] is False
    assert nanny.config["distributed"]["admin"]["system-monitor"]["gil"]["enabled"] is False
    assert dask.config.get("distributed.worker.profile.enabled"), "this process's settings are untouched"
