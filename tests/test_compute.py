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


def test_workers_run_blas_single_threaded():
    assert Executor("processes", workers=1, progress=False).map(_threads_env, [0]) == ["1"]


def test_settings_that_would_be_ignored_are_refused():
    with pytest.raises(ValueError, match="use --backend ray"):
        Executor("serial", ray_address="127.0.0.1:6379")
    with pytest.raises(ValueError, match="backend must be one of"):
        Executor("threads")
