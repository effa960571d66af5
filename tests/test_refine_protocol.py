"""The refine protocol without a model: the status file, the callbacks that write it, the lock and the start race."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from transformers import TrainerControl, TrainerState

from stylist.app.refine_worker import RefineWorker
from stylist.core.errors import StylistError
from stylist.core.refine_protocol import RUNNING, RefineResult, RefineStatus, is_locked, job_dir, refine_lock
from stylist.train.callbacks import HookCallback, StatusCallback
from stylist.train.refine import main as refine_main

# A worker that runs the real `refine` command line (lock, status file, callbacks) with a fake training of
# 4 steps of 0.4 s, a loss of 1 / step each.
FAKE_WORKER = """
import sys, time
from transformers import TrainerControl, TrainerState
from stylist.core.refine_protocol import RefineResult
from stylist.train import refine as worker

def fake_refine(data, user, config, llm, sft_adapter, watch, callbacks):
    callbacks = [watch, *callbacks]
    state, control = TrainerState(max_steps=4), TrainerControl()
    for callback in callbacks:
        callback.on_train_begin(None, state, control)
    while state.global_step < state.max_steps and not control.should_training_stop:
        time.sleep(0.4)
        state.global_step += 1
        for callback in callbacks:
            callback.on_log(None, state, control, logs={"loss": 1.0 / state.global_step})
            callback.on_step_end(None, state, control)
    for callback in callbacks:
        callback.on_train_end(None, state, control)
    stopped = state.global_step < state.max_steps
    return RefineResult(version=None if stopped else 1, steps=state.global_step, stopped=stopped)

worker._refine = fake_refine
print("fake worker", flush=True)
sys.exit(worker.main(sys.argv[1:]))
"""


def test_status_round_trips_through_the_file(tmp_path):
    path = tmp_path / "status.json"
    result = RefineResult(version=3, parent=2, train_pairs=40, heldout_pairs=9, steps=10, seconds=5.0,
                          train_seconds=4.0, losses=[0.7, 0.6], before={"fitb": None}, after={"fitb": 0.5})
    status = RefineStatus("done", "ann", started=1.0, pid=42, step=10, total=10, losses=[0.7, 0.6], result=result)
    status.write(path)
    read = RefineStatus.read(path)
    assert read == status and read.updated is not None and read.version == 3 and read.fraction == 1.0
    assert not read.running and [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary file left


@pytest.mark.parametrize("text, state, error", [
    (None, "idle", None),  # no run yet
    ("", "idle", None),
    ('{"state": "runn', "failed", "unreadable refine status"),  # half a file
    ("[1, 2]", "failed", "unreadable refine status"),
    ('{"state": "dancing"}', "failed", "unknown refine state 'dancing'"),
    ('{"state": "running", "step": 1, "total": 4}', "running", None),  # the other keys missing
])
def test_reading_is_tolerant_and_never_invents_a_live_run(tmp_path, text, state, error):
    path = tmp_path / "status.json"
    if text is not None:
        path.write_text(text)
    status = RefineStatus.read(path)
    assert status.state == state and (error in status.error if error else status.error is None)
    assert status.losses == [] and status.result is None


def test_an_older_status_file_still_reads(tmp_path):
    old = {"state": "done", "user": None, "started": 1.0, "updated": 2.0, "pid": 7, "step": 2, "total": 2,
           "losses": [0.6, 0.5], "version": 1, "extra": "ignored", "result": {"version": 1, "parent": 0, "steps": 2}}
    status = RefineStatus.from_json(json.dumps(old))
    assert status.state == "done" and status.version == 1 and status.result.steps == 2 and status.result.after == {}


def drive(callbacks, losses, stop_after=None, stop_file: Path | None = None) -> TrainerState:
    """What the trainer does: begin, then log and end each step (one loss each) until asked to stop, then end."""
    state, control = TrainerState(max_steps=len(losses)), TrainerControl()
    for callback in callbacks:
        callback.on_train_begin(None, state, control)
    for step, loss in enumerate(losses, 1):
        state.global_step = step
        if step == stop_after:  # asked during this step
            stop_file.touch()
        for callback in callbacks:
            callback.on_log(None, state, control, logs={"loss": loss, "learning_rate": 0.1})
            callback.on_step_end(None, state, control)
        if control.should_training_stop:
            break
    for callback in callbacks:
        callback.on_train_end(None, state, control)
    return state


def test_status_callback_writes_each_step_and_stops_at_the_stop_file(tmp_path):
    path, stop = tmp_path / "status.json", tmp_path / "stop"
    seen = []

    class Spy(HookCallback):  # reads the file as the page does, right after the status callback wrote it
        def on_log(self, args, state, control, logs=None, **kwargs):
            seen.append(RefineStatus.read(path))

    callback = StatusCallback(path, RefineStatus("running", "ann", started=1.0, pid=5), stop)
    state = drive([callback, Spy()], [0.9, 0.8, 0.7, 0.6], stop_after=2, stop_file=stop)
    assert [(s.state, s.step, s.total, s.losses) for s in seen] == [("running", 1, 4, [0.9]),
                                                                    ("running", 2, 4, [0.9, 0.8])]
    assert state.global_step == 2  # asked to stop after step 2, between steps
    final = RefineStatus.read(path)
    assert (final.state, final.step, final.user, final.pid, final.losses) == ("saving", 2, "ann", 5, [0.9, 0.8])


def test_hook_callback_reports_to_python(tmp_path):
    calls, hook = [], HookCallback(lambda step, total, loss: calls.append((step, total, loss)), lambda: len(calls) == 2)
    state = drive([hook], [0.9, 0.8, 0.7])
    assert calls == [(1, 3, 0.9), (2, 3, 0.8)] and hook.losses == [0.9, 0.8] and state.global_step == 2


def test_the_lock_is_one_at_a_time_and_can_be_handed_down(tmp_path):
    with refine_lock(tmp_path) as fd:
        assert is_locked(tmp_path)
        with pytest.raises(StylistError, match="already running"):
            with refine_lock(tmp_path, wait=0.05):
                pass
        with refine_lock(tmp_path, os.dup(fd)):  # a copy of the holder's descriptor, as a started worker inherits it
            assert is_locked(tmp_path)
        assert is_locked(tmp_path)  # closing one copy keeps the lock while the other is open
    assert not is_locked(tmp_path)


def test_a_worker_that_finds_the_lock_taken_writes_nothing(tmp_path):
    status_file = job_dir(tmp_path) / "status.json"
    RefineStatus("running", "ann", started=1.0).write(status_file)
    before = status_file.read_text()
    with refine_lock(tmp_path):
        with pytest.raises(StylistError, match="already running"):
            refine_main(["--data-dir", str(tmp_path), "--status-file", str(status_file)])
    assert status_file.read_text() == before


def test_a_dead_worker_reads_as_failed_only_when_no_one_holds_the_lock(tmp_path):
    job = RefineWorker(tmp_path)
    RefineStatus("running", started=1.0, pid=999999).write(job.status_file)
    with refine_lock(tmp_path):
        assert job.status().state == "running" and job.running()
    status = job.status()
    assert status.state == "failed" and "unexpectedly" in status.error and not job.running()
    assert RefineStatus.read(job.status_file).state == "failed"


def fake_job(data: Path) -> RefineWorker:
    job = RefineWorker(data)
    job.command = (sys.executable, "-c", FAKE_WORKER)
    return job


def wait_until_settled(job: RefineWorker, timeout: float = 120) -> list[RefineStatus]:
    seen, deadline = [job.status()], time.time() + timeout
    while seen[-1].state in RUNNING and time.time() < deadline:
        time.sleep(0.05)
        seen.append(job.status())
    return seen


def test_simultaneous_starts_launch_exactly_one_worker_and_the_others_change_nothing(tmp_path):
    starts, gate = [], threading.Barrier(4)

    def start():
        job = fake_job(tmp_path)  # one job each, as separate app processes would have
        gate.wait()
        try:
            starts.append(job.start(user="ann"))
        except StylistError as exc:
            starts.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    job = fake_job(tmp_path)
    seen = wait_until_settled(job)
    launched = [s for s in starts if isinstance(s, RefineStatus)]
    refused = [s for s in starts if isinstance(s, StylistError)]
    assert len(launched) == 1 and len(refused) == 3 and all("already running" in str(e) for e in refused)
    assert launched[0].state in RUNNING
    assert "failed" not in {s.state for s in seen}, [s for s in seen if s.state == "failed"][0]
    final = seen[-1]
    assert (final.state, final.version, final.step, final.total, final.user) == ("done", 1, 4, 4, "ann"), job.log_tail()
    assert final.losses == pytest.approx([1.0, 1 / 2, 1 / 3, 1 / 4])
    assert job.log_file.read_text().count("fake worker") == 1  # one worker, its log whole

    time.sleep(0.5)  # the finished worker is reaped: no zombie left behind
    assert not Path(f"/proc/{final.pid}").exists() or "Z" not in Path(f"/proc/{final.pid}/stat").read_text().split()[2]

    job.start(user="bob")  # the next run starts once the lock is free, and keeps the previous log
    assert wait_until_settled(job)[-1].state == "done"
    assert job.log_file.with_suffix(".previous.txt").read_text().count("fake worker") == 1
    assert RefineStatus.read(job.status_file).user == "bob"


def test_stop_ends_a_run_between_steps(tmp_path):
    job = fake_job(tmp_path)
    job.start()
    deadline = time.time() + 60
    while job.status().step < 1 and time.time() < deadline:
        time.sleep(0.05)
    status = job.stop(timeout=30)
    assert status.state == "stopped" and status.version is None and 1 <= status.step < 4, job.log_tail()
    assert status.result.stopped and not job.running()
