"""Work spread over processes: here, on local worker processes, or on a Dask cluster.

``deblur run --workers N`` and ``deblur bench --workers N`` hand each image to :func:`each_done`, which
runs a picklable job on every task and yields each outcome as it finishes:

- one worker and no scheduler: in this process, one task after another;
- ``N`` workers with ``dask.distributed`` installed (``pip install 'deblur-core[distributed]'``): a
  :class:`distributed.LocalCluster` of ``N`` single-threaded worker processes on the loopback address;
- ``N`` workers without it: :class:`ProcessPool`, ``N`` spawned processes of the standard library;
- a scheduler address (``--scheduler``, ``DEBLUR_SCHEDULER``): a running ``dask.distributed`` scheduler
  and whatever workers joined it (``dask scheduler`` / ``dask worker``, dask-jobqueue on SLURM).

Each task runs torch with ``threads`` threads (default: for local workers the cores divided among
them, so ``N`` workers on ``N`` cores do not oversubscribe them; on a cluster 1). A task that raises,
and a task whose process dies (killed, out of memory), becomes a :class:`Failure` while the others run
on. Jobs and tasks travel by pickle, results come back the same way: the submitting process reads every
input and writes every output, so workers need no shared file system.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from deblur.errors import DeblurError, InputError

__all__ = ["Failure", "Job", "ProcessPool", "WorkerDied", "Workers", "cores", "each_done", "has_dask"]

T = TypeVar("T")
R = TypeVar("R")
#: Seconds to wait for a Dask scheduler to answer before the run is refused.
CONNECT_TIMEOUT = 10
#: Dask settings of the LocalCluster behind ``--workers``: a task whose worker dies fails at once, as in
#: :class:`ProcessPool`, instead of being retried; the workers' malloc keeps its default trim threshold
#: (Dask's 64 KiB hands every freed FFT buffer back to the kernel) and they run no sampling profiler or
#: GIL monitor. Measured, classic on 8 synthetic images with 2 workers: 8.3 s an image with Dask's
#: defaults (a third of it in the kernel), 3.7 s with the malloc default, 3.2 s with this (2.9 s in
#: :class:`ProcessPool`).
LOCAL_CLUSTER = {
    "distributed.scheduler.allowed-failures": 0,
    "distributed.nanny.pre-spawn-environ": {},
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}

SUBMITTING = {"distributed.admin.large-graph-warning-threshold": "4GiB"}
"""The submitting client's Dask settings: every task carries its own image (a 1000 px colour photo is
12 MB in float32) and is sent once, so Dask's warning against large graphs (10 MB, meant for data
repeated in many tasks) would only print a screen of advice per image."""


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def has_dask() -> bool:
    """Whether ``dask.distributed`` is installed (the ``distributed`` extra of deblur-core)."""
    return importlib.util.find_spec("distributed") is not None


@dataclass(frozen=True)
class Workers:
    """Where tasks run: ``count`` local worker processes (1: this process) or a Dask ``scheduler``.

    ``threads`` is the torch thread count of each task (see :meth:`threads_each` for the default).
    """

    count: int = 1
    threads: int | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise InputError(f"--workers must be a positive integer, got {self.count}")
        if self.threads is not None and self.threads < 1:
            raise InputError(f"--threads must be a positive integer, got {self.threads}")
        if self.scheduler and self.count > 1:
            raise InputError(
                "--workers starts local processes and --scheduler (or DEBLUR_SCHEDULER) sends the work "
                "to a Dask cluster's workers; give one of them"
            )
        if self.scheduler and not has_dask():
            raise InputError(
                f"--scheduler {self.scheduler} needs dask.distributed: pip install 'deblur-core[distributed]'"
            )

    @property
    def serial(self) -> bool:
        return self.count == 1 and not self.scheduler

    def threads_each(self) -> int | None:
        """Torch threads per image: ``threads``; else for local workers this machine's cores divided
        among them, on a cluster 1 (a Dask worker cannot tell how many others share its node), and in
        this process ``None`` (torch's choice)."""
        if self.threads or self.serial:
            return self.threads
        return 1 if self.scheduler else max(1, cores() // self.count)

    def describe(self) -> str:
        """``"on 2 local workers, 1 thread each"``, for reports."""
        threads = self.threads_each()
        each = "" if threads is None else f", {threads} thread{'s' * (threads != 1)} each"
        if self.scheduler:
            return f"on the workers of the Dask scheduler at {self.scheduler}{each}"
        return f"on {'this process' if self.serial else f'{self.count} local workers'}{each}"


@dataclass(frozen=True)
class Failure:
    """A task that raised (``error`` is its one-line message) or whose worker process was lost."""

    error: str
    traceback: str = ""

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The first line of a user error's message, ``"ValueError: its first line"`` for anything
        else, and the traceback."""
        text = str(exc).strip().splitlines()
        if not (isinstance(exc, DeblurError) and text):
            text = [f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__]
        return cls(text[0], traceback.format_exc())


class Job:
    """A picklable job whose fields named in ``local`` (this process's registry, a progress callback)
    stay behind, as ``None``, when it travels to a worker process."""

    local: tuple[str, ...] = ()

    def __getstate__(self) -> dict[str, Any]:
        return {key: None if key in self.local else value for key, value in self.__dict__.items()}


class WorkerDied(RuntimeError):
    """The worker process running a task ended before it returned."""


def each_done(
    job: Callable[[T], R], tasks: Sequence[T], workers: Workers
) -> Iterator[tuple[int, R | Failure]]:
    """``(index, job(tasks[index]))`` for every task, in the order they finish; a task that raises or
    loses its worker gives a :class:`Failure` there and the others run on.

    Serially (``workers.serial``) ``job`` runs in this process and may be any callable; otherwise it and
    the tasks must pickle, and the results too. ``tasks[i]`` is read only when task ``i`` is sent (at
    most two per worker are in flight), so a sequence that loads each input on access keeps memory
    bounded however many there are. ``KeyboardInterrupt`` stops every worker.
    """
    if workers.serial:
        if workers.threads:
            import torch

            torch.set_num_threads(workers.threads)
        for index in range(len(tasks)):
            yield index, _guarded(lambda i: job(tasks[i]), index)
        return
    # OpenMP threads that spin while they wait steal the cores of the other workers (see deblur.cli)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    threads = workers.threads_each()
    with _executor(workers) as (executor, capacity):
        waiting, running = iter(range(len(tasks))), {}
        while True:  # at most two tasks per worker in flight: a task is read only when it is sent
            while len(running) < 2 * capacity() and (index := next(waiting, None)) is not None:
                task = _guarded(tasks.__getitem__, index)  # reading an input may fail too
                if isinstance(task, Failure):
                    yield index, task
                    continue
                running[executor.submit(_call, job, task, threads)] = index
            if not running:
                return
            finished, _ = wait_for(running, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    outcome = future.result()
                except Exception as exc:  # the task never ran to its end: it did not pickle, or
                    outcome = _lost(exc)  # its worker process died
                yield running.pop(future), outcome


def _call(job: Callable[[T], R], task: T, threads: int) -> R | Failure:
    """In a worker: ``job(task)`` with ``threads`` torch threads."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return _guarded(job, task)


def _lost(exc: Exception) -> Failure:
    """The :class:`Failure` of a task that did not come back from its worker."""
    failure = Failure.of(exc)
    if isinstance(exc, WorkerDied) or type(exc).__name__ == "KilledWorker":  # Dask's, not imported here
        return Failure(f"its worker process was lost ({failure.error})", failure.traceback)
    return failure


def _guarded(job: Callable[[T], R], task: T) -> R | Failure:
    """``job(task)``, or the :class:`Failure` of the exception it raised."""
    try:
        return job(task)
    except Exception as exc:
        return Failure.of(exc)


@contextlib.contextmanager
def _executor(workers: Workers) -> Iterator[tuple[Executor, Callable[[], int]]]:
    """An executor for ``workers``, and how many tasks it runs at once now (a cluster's workers may
    join while it runs)."""
    if not workers.scheduler and not has_dask():
        pool = ProcessPool(workers.count)
        try:
            yield pool, lambda: workers.count
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    try:
        if workers.scheduler:
            client = Client(workers.scheduler, timeout=CONNECT_TIMEOUT)
        else:  # a task whose worker dies fails at once, as in ProcessPool, instead of being retried
            with dask.config.set(LOCAL_CLUSTER), _no_sigint():
                cluster = LocalCluster(
                    n_workers=workers.count,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                )
            client = Client(cluster)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {workers.scheduler}: {exc}") from None
    try:
        with dask.config.set(SUBMITTING):
            yield client.get_executor(pure=False), lambda: max(1, sum(client.nthreads().values()))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _no_sigint() -> Iterator[None]:
    """Processes started inside ignore ``SIGINT`` (an ignored signal survives ``exec``), as
    :class:`ProcessPool`'s do: Ctrl-C stops this process, which then closes the workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


def dask_setup(nanny: Any) -> None:
    """Dask's preload hook, for the workers of a cluster: ``dask worker ADDRESS --preload-nanny
    deblur.parallel`` starts each worker process with the :data:`LOCAL_CLUSTER` settings (no 64 KiB
    malloc trim threshold, no profiler, no GIL monitor) that ``--workers`` gives its own."""
    import dask

    for env in (nanny.env, nanny.pre_spawn_env):
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
    worker = ("distributed.worker", "distributed.admin")  # what the worker process reads
    settings = {key: value for key, value in LOCAL_CLUSTER.items() if key.startswith(worker)}
    dask.config.set(settings, config=nanny.config)  # the configuration the nanny hands its worker


class ProcessPool(Executor):
    """``count`` spawned worker processes, one task at a time each.

    Unlike :class:`concurrent.futures.ProcessPoolExecutor`, which fails every pending task when one
    process dies, here only the task that process was running fails (:class:`WorkerDied`); a new
    process takes its place and the other tasks run on. Workers ignore ``SIGINT``: the submitting
    process decides, and :meth:`shutdown` without ``wait`` ends them at once.
    """

    def __init__(self, count: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._tasks: queue.Queue[tuple[Future, Callable, tuple, dict] | None] = queue.Queue()
        self._closing = False
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._feed, daemon=True) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        if self._closing:
            raise RuntimeError("cannot submit to a pool that is shut down")
        future: Future[R] = Future()
        self._tasks.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closing = True
        if cancel_futures:
            with contextlib.suppress(queue.Empty):
                while True:
                    entry = self._tasks.get_nowait()
                    if entry is not None:
                        entry[0].cancel()
        for _ in self._threads:
            self._tasks.put(None)
        if not wait:
            with self._lock:
                for process in self._processes:
                    process.terminate()
        for thread in self._threads:
            thread.join()

    def _start(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs,), daemon=True)
        process.start()
        theirs.close()
        with self._lock:
            self._processes.append(process)
        return process, ours

    def _stop(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        with contextlib.suppress(OSError):
            conn.send(None)
        conn.close()
        process.join(timeout=5)
        if process.is_alive():
            process.terminate()
        with self._lock:
            self._processes.remove(process)

    def _feed(self) -> None:
        """One worker process: hand it a task, wait for its answer or its end, repeat."""
        process, conn = None, None
        while (entry := self._tasks.get()) is not None:
            future, fn, args, kwargs = entry
            if not future.set_running_or_notify_cancel():
                continue
            if process is None or not process.is_alive():
                process, conn = self._start()
            try:
                conn.send((fn, args, kwargs))
                wait([conn, process.sentinel])
                ok, value = conn.recv()
            except (EOFError, OSError):  # the process ended (or its pipe broke) before it answered
                process.join()
                future.set_exception(WorkerDied(f"exit code {process.exitcode}"))
                self._stop(process, conn)
                process = None
                continue
            except Exception as exc:  # the task did not pickle, or its answer did not unpickle
                future.set_exception(exc)
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if process is not None:
            self._stop(process, conn)


def _serve(conn: Connection) -> None:
    """A worker process's loop: ``(fn, args, kwargs)`` in, ``(True, result)`` or ``(False, error)`` out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (message := conn.recv()) is not None:
        fn, args, kwargs = message
        try:
            answer = (True, fn(*args, **kwargs))
        except Exception as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an unpicklable result or error
            conn.send((False, RuntimeError(f"the task's answer could not be sent back: {exc}")))
