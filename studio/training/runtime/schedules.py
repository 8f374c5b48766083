"""Learning rates per step and the improved / bad epochs of a monitored metric (runtime)."""

from __future__ import annotations

import math

# -- learning-rate schedules (see `ScheduleKind.rate`) -------------------------------------------
# Each gives the rate of optimizer step `step` (from 0) for the base rate `base`, the schedule's
# options `o` and the run's length; `scale` is reduce-on-plateau's running multiplier.


def warmup_factor(step, o, steps_per_epoch):
    """Linear warm-up over `o["warmup_epochs"]` epochs: (step + 1) / (warm-up steps + 1)."""
    warmup = round(float(o.get("warmup_epochs", 0.0)) * steps_per_epoch)
    return (step + 1) / (warmup + 1) if warmup and step < warmup else 1.0


def constant_rate(step, base, o, steps_per_epoch, epochs, scale=1.0):
    """The base rate, after the warm-up."""
    return base * warmup_factor(step, o, steps_per_epoch) * scale


def step_rate(step, base, o, steps_per_epoch, epochs, scale=1.0):
    """x gamma every `step_size` epochs (torch's StepLR, per step)."""
    factor = warmup_factor(step, o, steps_per_epoch)
    factor *= o["gamma"] ** (step // (o["step_size"] * steps_per_epoch))
    return base * factor * scale


def cosine_rate(step, base, o, steps_per_epoch, epochs, scale=1.0):
    """Half a cosine from the base rate down to `min_lr` (CosineAnnealingLR, per step)."""
    warmup = round(float(o.get("warmup_epochs", 0.0)) * steps_per_epoch)
    progress = min(1.0, max(0, step - warmup) / max(1, epochs * steps_per_epoch - warmup))
    floor = min(o["min_lr"], base)
    lr = floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr * warmup_factor(step, o, steps_per_epoch) * scale


def one_cycle_rate(step, base, o, steps_per_epoch, epochs, scale=1.0):
    """Up from base/25 to base in the first `pct_start` of the steps, then down to base/25e4
    (OneCycleLR with cosine annealing)."""
    total = max(1, epochs * steps_per_epoch)
    rise = max(1, int(o["pct_start"] * total) - 1)
    if step <= rise:
        start, end, progress = 1 / 25.0, 1.0, step / rise
    else:
        start, end, progress = 1.0, 1 / 25.0 / 1e4, min(1.0, (step - rise) / max(1, total - 1 - rise))
    return base * (end + (start - end) / 2.0 * (math.cos(math.pi * progress) + 1)) * scale


def plateau_rate(step, base, o, steps_per_epoch, epochs, scale=1.0):
    """The base rate times the plateau multiplier, never below `min_lr`."""
    lr = base * warmup_factor(step, o, steps_per_epoch) * scale
    return max(lr, min(o["min_lr"], base))


def learning_rate(step, base, schedule, rate, steps_per_epoch, epochs, scale=1.0):
    """The rate of optimizer step `step`: the schedule's `rate` function (one of the above) with
    the schedule's options (a plain dict), for a run of `epochs` of `steps_per_epoch` steps."""
    return rate(step, base, schedule, max(1, steps_per_epoch), epochs, scale)


def set_learning_rate(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


# -- improved / bad epochs ------------------------------------------------------------------------


class Monitor:
    """The best value of one monitored metric and the epochs since it last improved (`state`, a
    dict as `record` keeps it): what reduce-on-plateau counts (`bad_epochs` passes its patience).
    The run's own best (the best checkpoint, early stopping) and the training loop's plateau
    are kept in `fit.new_progress`'s dict with the same `record`."""

    def __init__(self, mode="min", min_delta=0.0):
        self.mode, self.min_delta = mode, min_delta
        self.state = {"best": None, "best_epoch": None, "bad_epochs": 0}

    def update(self, value, epoch=None):
        """Record one epoch's value; True when it is a new best."""
        return record(self.state, value, epoch, self.mode, self.min_delta)

    best = property(lambda self: self.state["best"])
    best_epoch = property(lambda self: self.state["best_epoch"])
    bad_epochs = property(lambda self: self.state["bad_epochs"])

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = {"best": state["best"], "best_epoch": state.get("best_epoch"),
                      "bad_epochs": int(state["bad_epochs"])}


def record(best_so_far, value, epoch, mode="min", min_delta=0.0):
    """Record one epoch's `value` of the monitored metric in the dict `best_so_far` (its "best",
    "best_epoch" and "bad_epochs"); True when it is a new best. NaN never improves; None (no
    value) changes nothing. `bad_epochs` counts the epochs since the last gain of more than
    `min_delta` (early stopping's and reduce-on-plateau's patience); min_delta None: no count."""
    best = best_so_far["best"]
    improved = value is not None and not math.isnan(value) and (
        best is None or (value < best if mode == "min" else value > best))
    if min_delta is not None and value is not None:
        significant = improved and (best is None or abs(value - best) > min_delta)
        best_so_far["bad_epochs"] = 0 if significant else best_so_far["bad_epochs"] + (best is not None)
    if improved:
        best_so_far["best"], best_so_far["best_epoch"] = value, epoch
    return improved
