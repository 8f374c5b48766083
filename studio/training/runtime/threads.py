"""How many CPU threads torch may use for one op: one choice, made by every place that runs a
model (``studio train``, the Trainer API, the window's training process, Try it, train.py).

Why not torch's default (one thread per core): when other processes keep the cores busy, torch's
OpenMP threads wait for each other at every op, and a waiting thread is often parked behind
another process. Measured on the 2-core machine with ``benchmarks/threads.py`` (Adam, foreach):

====================================  =============  ==============
samples/s                             1 thread       2 threads
====================================  =============  ==============
small MLP, batch 64, load 17          7,912          281 (28x slower)
wide MLP (1024), batch 128, load 17   704            80
small MLP, + 2 busy processes         2,635          46
Try it, tokens/s, load 17             106            5
====================================  =============  ==============

So a run takes the cores nobody else is using, judged by the load average over the last minute
(which counts the processes ready to run), and never fewer than one. On an idle machine that is
torch's default; on a shared one, one thread. ``STUDIO_THREADS`` sets the number outright.

Part of the runtime: standard library and torch only, copied into train.py.
"""

from __future__ import annotations

import os

import torch


def cpu_load(processes=1):
    """(the cores each of `processes` runs of this machine may take, the load average over the
    last minute: the processes ready to run)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, (cores or 1) // max(1, processes))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0  # Windows has no load average
    return cores, load


def idle_cores(processes=1):
    """The cores other work leaves idle, at least one: the intra-op threads of a run."""
    cores, load = cpu_load(processes)
    return max(1, min(cores, round(cores - load)))


def choose_threads(device="cpu", at_most=None, processes=1):
    """Set torch's intra-op threads for a run on ``device`` and return ``(threads, why)``, ``why``
    a phrase for the run's summary. ``at_most`` caps it (the window keeps a core for its GUI);
    ``processes`` runs of this machine share its cores (torchrun on the CPU). train.py sets
    `idle_cores` alone (``STUDIO_THREADS`` is Studio's)."""
    threads, (cores, busy) = idle_cores(processes), cpu_load(processes)
    why = f"other work keeps {min(cores, round(busy))} of {cores} cores busy (load {busy:.1f})"
    if at_most and at_most < cores:
        threads, why = min(threads, at_most), why + "; the window keeps a core"
    if (asked := os.environ.get("STUDIO_THREADS", "").strip()).isdigit() and int(asked) > 0:
        threads, why = int(asked), "as STUDIO_THREADS asks"
    why += "; the GPU does the model's work" if str(device).startswith("cuda") else ""
    torch.set_num_threads(threads)
    return threads, f"{threads} CPU thread{'s' if threads > 1 else ''}: {why}"
