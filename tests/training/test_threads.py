"""choose_threads: the cores nobody else is using, at least one, capped by the caller; the
run's summary says how many and why, and which optimizer implementation runs."""

from __future__ import annotations

import os

import pytest
import torch

from studio.training.runtime.threads import choose_threads


@pytest.fixture(autouse=True)
def keep_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("STUDIO_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    yield
    torch.set_num_threads(before)


def _load(monkeypatch, value):
    monkeypatch.setattr(os, "getloadavg", lambda: (value, value, value))


@pytest.mark.parametrize(
    "load, at_most, processes, expected",
    [(0.1, None, 1, 8), (0.1, 7, 1, 7), (3.2, None, 1, 5), (7.5, None, 1, 1), (40.0, 7, 1, 1), (0.0, None, 2, 4)],
)
def test_the_idle_cores_at_least_one(monkeypatch, load, at_most, processes, expected):
    _load(monkeypatch, load)
    threads, why = choose_threads("cpu", at_most, processes)
    assert threads == expected == torch.get_num_threads()
    assert why.startswith(f"{expected} CPU thread")
    if expected < (at_most or 8 // processes):
        assert f"load {load:.1f}" in why


def test_studio_threads_sets_it_outright(monkeypatch):
    _load(monkeypatch, 40.0)
    monkeypatch.setenv("STUDIO_THREADS", "3")
    assert choose_threads("cuda") == (3, "3 CPU threads: as STUDIO_THREADS asks; the GPU does the model's work")


def test_no_load_average_counts_as_idle(monkeypatch):
    monkeypatch.delattr(os, "getloadavg")  # as on Windows
    assert choose_threads()[0] == 8


def test_the_trainer_says_threads_and_optimizer_in_its_summary(monkeypatch):
    from studio.training import BaseCallback, Trainer, load_data
    from tests.training.training_helpers import make_settings, mlp

    _load(monkeypatch, 7.5)
    infos = []

    class Keep(BaseCallback):
        def on_run_start(self, info):
            infos.append(info)

    s = make_settings(data={"kind": "moons", "n": 60}, epochs=1)
    assert Trainer(mlp(), load_data(s), s, [Keep()], max_threads=2).fit().status == "completed"
    note = next(n for n in infos[0].notes if n.startswith("Running with"))
    assert note.startswith("Running with 1 CPU thread: other work keeps") and ". Optimizer: Adam (" in note
    assert torch.get_num_threads() == 1
