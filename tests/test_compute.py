"""The executor: same results in item order on every backend; a failing task is named."""

import os

import pytest

from kemo_attention.compute import Executor, TaskError


def _square_plus(item, offset=0):
    return item * item + offset


def _fail_on_three(item):
    if item == 3:
        raise ValueError("three is bad")
    return item


def _threads_env(_item):
    return os.environ.get("OMP_NUM_THREADS")


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_results_come_back_in_item_order(backend):
    ex = Executor(backend, workers=2, progress=False)
    assert ex.map(_square_plus, [3, 1, 2, 5], shared={"offset": 10}) == [19, 11, 14, 35]


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_a_failing_task_is_named(backend):
    ex = Executor(backend, workers=2, progress=False)
    with pytest.raises(TaskError, match="task item-3 failed: ValueError: three is bad"):
        ex.map(_fail_on_three, [1, 2, 3], names=["item-1", "item-2", "item-3"])


def _slow_after_first(item):
    import time

    if item > 0:
        time.sleep(1.0)
    return item


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_on_result_takes_each_result_once_and_nothing_is_kept(backend):
    got = {}

    def take(i, result):
        assert i not in got
        got[i] = result

    ex = Executor(backend, workers=2, progress=False)
    assert ex.map(_square_plus, [3, 1, 2, 5], shared={"offset": 10}, on_result=take) == [None] * 4
    assert got == {0: 19, 1: 11, 2: 14, 3: 35}  # every index with its own item's result


def test_a_result_the_caller_refuses_stops_the_queued_tasks():
    import time

    refused_at = []

    def refuse(i, result):
        refused_at.append(time.perf_counter())
        raise RuntimeError(f"result {i} refused")

    with pytest.raises(RuntimeError, match="result 0 refused"):
        # one worker: item 0 is instant, the eight others would take 8 s if they still ran
        Executor("processes", workers=1, progress=False).map(_slow_after_first, list(range(9)), on_result=refuse)
    assert time.perf_counter() - refused_at[0] < 5  # at most the one task already running (1 s) finished


def test_workers_run_blas_single_threaded():
    assert Executor("processes", workers=1, progress=False).map(_threads_env, [0]) == ["1"]


def test_settings_that_would_be_ignored_are_refused():
    with pytest.raises(ValueError, match="use --backend ray"):
        Executor("serial", ray_address="127.0.0.1:6379")
    with pytest.raises(ValueError, match="backend must be one of"):
        Executor("threads")
