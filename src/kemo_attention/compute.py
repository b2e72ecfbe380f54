"""One executor for every parallel job of the tool: serial, local processes, or Ray.

Feature extraction runs one task per participant; evaluation one task per fold (all its models).
Both call :meth:`Executor.map`, which returns results in the order of the items, shows a
progress bar, and re-raises a failed task's error naming the task.

Large inputs shared by every task (the evaluation dataset) are passed once through
``shared``: Ray puts them in its object store a single time; local processes receive them
once per worker through the pool initializer; tasks get only their item (paths, indices).

On Ray, tasks are spread over the cluster's nodes, and every task reports the node it ran
on: :attr:`Executor.nodes_used` (written to the extraction and evaluation manifests) shows a
user that a run really used their cluster.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

from kemo_attention.errors import KemoError

Backend = Literal["serial", "processes", "ray"]
BACKENDS: tuple[str, ...] = ("serial", "processes", "ray")

# Pinned in every worker: numpy's BLAS threads fighting over two cores made slice
# arithmetic ~50x slower in the prototype (design.md, "Where the time goes").
_SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
}


class TaskError(KemoError, RuntimeError):
    """A task failed; the message names the task and carries the worker's error."""

    @property
    def exit_code(self) -> int:  # type: ignore[override]
        # A task that refused bad input exits like that error (2); anything else is a failure (1).
        cause = self.__cause__
        return cause.exit_code if isinstance(cause, KemoError) else 1


class ExecutorSettingsError(KemoError, ValueError):
    """Executor settings that cannot work together (backend, workers, Ray address)."""


def _pin_threads() -> None:
    os.environ.update(_SINGLE_THREAD_ENV)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except Exception:  # threadpoolctl is a scikit-learn dependency; absence is harmless
        pass


_WORKER_SHARED: dict[str, Any] = {}


def _process_init(shared: dict[str, Any]) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the driver alone handles it (it
    # ends the workers), so a worker neither prints a KeyboardInterrupt traceback nor dies
    # half-way through writing a cache entry.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # blocked by the driver while it started us
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _pin_threads()
    _WORKER_SHARED.clear()
    _WORKER_SHARED.update(shared)


def _process_call(fn: Callable[..., Any], item: Any) -> Any:
    try:
        return fn(item, **_WORKER_SHARED)
    finally:
        _return_freed_memory()


def _return_freed_memory() -> None:
    """Hand memory freed by a finished task back to the system before the next one.

    Without it a worker's footprint creeps up with every task (glibc keeps freed blocks in its
    arenas, fragmented), so a long run peaked higher than a short one of the same tasks."""
    gc.collect()
    if _LIBC_MALLOC_TRIM is not None:
        _LIBC_MALLOC_TRIM(0)


def _find_malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # glibc (Linux); elsewhere nothing to do
    except (OSError, AttributeError):
        return None


_LIBC_MALLOC_TRIM = _find_malloc_trim()


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass
class Executor:
    """Run ``fn(item, **shared)`` for every item.

    Parameters
    ----------
    backend : "serial" | "processes" | "ray"
    workers : number of parallel workers (processes, or Ray CPUs for a local Ray).
    ray_address : join this Ray cluster (else ``RAY_ADDRESS``; else start a local Ray).
    progress : show a progress bar on stderr.

    After a Ray :meth:`map`, ``nodes_used`` lists the nodes its tasks ran on (node id,
    address, tasks), sorted by address; empty for the other backends.
    """

    backend: Backend = "serial"
    workers: int | None = None
    ray_address: str | None = None
    progress: bool = True
    nodes_used: list[dict[str, Any]] = field(default_factory=list, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ExecutorSettingsError(f"backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}")
        if self.ray_address and self.backend != "ray":
            raise ExecutorSettingsError(
                f"a Ray address ({self.ray_address}) was given with backend {self.backend!r}; "
                "use --backend ray to join a cluster"
            )
        if self.workers is not None and self.workers < 1:
            raise ExecutorSettingsError(f"workers must be at least 1; got {self.workers}")

    # ------------------------------------------------------------------ public
    def map(
        self,
        fn: Callable[..., Any],
        items: Sequence[Any],
        *,
        shared: dict[str, Any] | None = None,
        desc: str = "tasks",
        names: Sequence[str] | None = None,
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """Apply ``fn(item, **shared)`` to each item; results in item order.

        With ``on_result``, each result is handed to ``on_result(index, result)`` as it
        arrives and not kept (the list returned holds None): a driver of many large results
        holds one at a time. Serial and local processes stream; Ray hands them over at the end.
        """
        items = list(items)
        shared = dict(shared or {})
        names = [str(n) for n in names] if names is not None else [repr(i) for i in items]
        self.nodes_used = []
        if not items:
            return []
        with _Progress(len(items), desc, enabled=self.progress) as bar:
            if self.backend == "serial":
                return self._map_serial(fn, items, shared, names, bar, on_result)
            if self.backend == "processes":
                return self._map_processes(fn, items, shared, names, bar, on_result)
            results = self._map_ray(fn, items, shared, names, bar)
            if on_result is not None:
                for i in range(len(results)):
                    on_result(i, results[i])
                    results[i] = None
            return results

    # ---------------------------------------------------------------- backends
    def _map_serial(self, fn, items, shared, names, bar, on_result=None) -> list[Any]:
        results = []
        for i, (item, name) in enumerate(zip(items, names)):
            try:
                result = fn(item, **shared)
            except Exception as exc:
                raise TaskError(f"task {name} failed: {type(exc).__name__}: {exc}") from exc
            results.append(_delivered(on_result, i, result))
            bar.advance()
        return results

    def _map_processes(self, fn, items, shared, names, bar, on_result=None) -> list[Any]:
        import multiprocessing as mp

        workers = min(self.workers or default_workers(), len(items))
        results: list[Any] = [None] * len(items)
        # spawn, not fork: forking a process that already runs polars/OpenMP threads can hang.
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_process_init, initargs=(shared,)) as pool:
            try:
                # The pool starts its workers during these submits. SIGINT stays blocked meanwhile:
                # the workers inherit the blocked mask and only unblock it once they ignore SIGINT
                # (_process_init), so a Ctrl-C while they are still importing does not print their
                # KeyboardInterrupt tracebacks; the driver gets its own SIGINT right after.
                with _sigint_blocked():
                    pending = {pool.submit(_process_call, fn, item): i for i, item in enumerate(items)}
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = pending.pop(fut)
                        try:
                            result = fut.result()
                        except Exception as exc:
                            for other in pending:
                                other.cancel()
                            raise TaskError(f"task {names[i]} failed: {type(exc).__name__}: {exc}") from exc
                        try:
                            results[i] = _delivered(on_result, i, result)
                        except Exception:  # the caller refused a result: run nothing more
                            for other in pending:
                                other.cancel()
                            raise
                        bar.advance()
            except KeyboardInterrupt:
                _stop_now(pool)  # Ctrl-C: do not wait for the queued and running tasks
                raise
        return results

    def _map_ray(self, fn, items, shared, names, bar) -> list[Any]:
        ray = ensure_ray(self.ray_address, self.workers)
        # SPREAD: every task is seconds of work, so a cluster's user wants them over all its
        # nodes; Ray's default packs short tasks onto the driver's node while another node's
        # workers are still starting. On one node both strategies are the same.
        remote = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_ray_call)
        shared_refs = {k: ray.put(v) for k, v in shared.items()}
        keys = list(shared_refs)
        refs = [remote.remote(fn, item, keys, *[shared_refs[k] for k in keys]) for item in items]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(items)
        tasks_by_node: dict[tuple[str, str], int] = {}
        remaining = list(refs)
        while remaining:
            done, remaining = ray.wait(remaining, num_returns=1)
            for ref in done:
                i = index[ref]
                try:
                    node, results[i] = ray.get(ref)
                except Exception as exc:
                    for r in remaining:
                        ray.cancel(r)
                    cause = getattr(exc, "cause", None) or exc
                    raise TaskError(f"task {names[i]} failed: {type(cause).__name__}: {cause}") from exc
                tasks_by_node[node] = tasks_by_node.get(node, 0) + 1
                bar.advance()
        self.nodes_used = [
            {"node_id": node_id, "address": address, "tasks": count}
            for (address, node_id), count in sorted(tasks_by_node.items())
        ]
        return results


def _delivered(on_result, i: int, result: Any) -> Any:
    """What ``map`` keeps of a result: the result, or None once ``on_result`` took it."""
    if on_result is None:
        return result
    on_result(i, result)
    return None


def nodes_line(nodes_used: Sequence[dict[str, Any]]) -> str:
    """One line for the terminal: on how many Ray nodes the tasks ran, and how many each."""
    each = ", ".join(f"{n['address']} ({n['node_id'][:8]}): {n['tasks']}" for n in nodes_used)
    count = len(nodes_used)
    return f"ran on {count} Ray node{'s' if count != 1 else ''}, tasks per node: {each}"


@contextmanager
def _sigint_blocked():
    """Hold SIGINT back (delivered when the block ends) where the platform allows it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Drop the queued tasks and end the worker processes (finished tasks keep their results)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown() forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def _ray_call(fn, item, keys, *values):
    """Run one task on a Ray worker; returns ((node address, node id), result)."""
    import ray

    _pin_threads()
    result = fn(item, **dict(zip(keys, values)))
    node = (ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id())
    return node, result


# Ray replaces 127.0.0.1 (and "localhost") by the machine's network address on Linux, and the
# local Ray's processes would then talk over that address; another loopback address is kept
# as given. macOS configures only 127.0.0.1, which Ray keeps there (no multi-node on macOS).
_LOCAL_RAY_IP = "127.0.0.1" if sys.platform == "darwin" else "127.0.0.2"


def ensure_ray(address: str | None = None, workers: int | None = None):
    """Connect to Ray once per process.

    ``address`` (or the ``RAY_ADDRESS`` environment variable) joins an existing cluster.
    Otherwise a local Ray starts on a loopback address with its dashboard and usage
    reporting off, so its processes talk to each other over loopback only and nothing is
    sent anywhere. (Ray's own servers still listen on every interface; that is Ray's choice.)
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    runtime_env = {"env_vars": dict(_SINGLE_THREAD_ENV)}
    if address:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, logging_level="ERROR")
    else:
        ray.init(
            num_cpus=workers or default_workers(),
            include_dashboard=False,
            _node_ip_address=_LOCAL_RAY_IP,
            runtime_env=runtime_env,
            log_to_driver=False,
            logging_level="ERROR",
            configure_logging=True,
        )
    return ray


class _Progress:
    """A rich progress bar with tasks done and time left; silent when disabled."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self._progress = None
        self._task = None
        self.started = time.perf_counter()

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.console import Console

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.desc, total=self.total)
        return self

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
