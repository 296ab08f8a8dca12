"""Start many callers at once, as threads or as spawned processes, and collect what each returned.

Callers start together on a barrier or an event once every one of them is ready, never at a wall-clock
instant; the deadline is for events (a thread finishing, a process starting), never a margin an outcome
depends on.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from typing import Any

PATIENCE = 300


def run_threads_together(calls: Sequence[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run each call in its own thread, all released at once; return (results, errors)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []

    def worker(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results.append(call())
        except Exception as err:  # collected for the caller to assert on
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert not [thread for thread in threads if thread.is_alive()], "threads still running"
    return results, errors


def _process_shell(prepare: Callable[..., Callable[[], Any]], args: tuple, ready, go, queue) -> None:
    try:
        action = prepare(*args)  # imports and setup happen before the start signal
    except Exception as err:
        ready.release()
        queue.put(("error", f"{type(err).__name__}: {err}"))
        return
    ready.release()
    try:
        if not go.wait(PATIENCE):
            raise TimeoutError("the start signal never came")
        queue.put(("ok", action()))
    except Exception as err:
        queue.put(("error", f"{type(err).__name__}: {err}"))


def run_processes_together(prepare: Callable[..., Callable[[], Any]], args: tuple, count: int) -> list[Any]:
    """Spawn ``count`` processes; each calls ``prepare(*args)`` (a module-level function) to get its action,
    then all run their actions at once. Asserts every one succeeded and returns their results."""
    ctx = multiprocessing.get_context("spawn")
    queue, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=_process_shell, args=(prepare, args, ready, go, queue)) for _ in range(count)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            assert ready.acquire(timeout=PATIENCE), "a worker process did not start"
        go.set()
        outcomes = [queue.get(timeout=PATIENCE) for _ in procs]
    finally:
        go.set()
        for proc in procs:
            proc.join(PATIENCE)
            if proc.is_alive():
                proc.kill()
    assert [kind for kind, _ in outcomes] == ["ok"] * count, outcomes
    return [result for _, result in outcomes]
