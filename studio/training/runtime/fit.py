"""The training loop, written once: Studio's trainer and the exported train.py both call `fit` (runtime).

As in Lightning, the loop knows nothing of what is around it. `fit` runs the epochs and the
five steps of each batch, sets the learning rate of every step, validates, reduces the rate on a
plateau, keeps the best value of the monitored metric and stops early; everything else is a hook.
Studio's trainer's hooks report steps to its callbacks, obey pause and stop and save checkpoints;
train.py's print, sum over the DistributedDataParallel processes and write metrics.csv.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch

from studio.training.runtime.loop import evaluate
from studio.training.runtime.metrics import with_perplexity
from studio.training.runtime.schedules import learning_rate, record, set_learning_rate


class Hooks:
    """What `fit` tells the code around it, and what it trains with. Override what you need."""

    #: mixed precision: the autocast context and the fp16 gradient scaler (None: no scaling)
    autocast, scaler = contextlib.nullcontext(), None

    def on_epoch_start(self, epoch):
        """Before each epoch; True stops the run."""
        return False

    def on_step(self, loss, logits, y):
        """After each optimizer step (the values still on the device); True stops the run
        (None, as a hook that returns nothing, goes on)."""
        return False

    def epoch_sums(self, epoch):
        """(loss sum, metric sum, samples) of the epoch's training steps, over all processes."""
        raise NotImplementedError

    def reduce(self, sums):
        """The `sums` (a tensor) over all processes, as numbers (one process: its own)."""
        return sums.tolist()

    def on_epoch_end(self, epoch, metrics, improved):
        """After each epoch; `improved`: the monitored metric is the best so far."""


def new_progress(plan):
    """Where a new run stands, as a plain dict a checkpoint saves as it is (a resumed run
    `update`s it with the saved one and goes on exactly where it stopped): epochs and steps done,
    the plateau's rate multiplier, each epoch's metrics, the best value of the monitored metric,
    its epoch (set when it first improves) and the epochs since (early stopping's count); with a
    plateau schedule, its own best and count under "plateau"."""
    progress = {"epoch": 0, "step": 0, "scale": 1.0, "history": [], "best": None, "bad_epochs": 0}
    if plan["plateau"]:  # reduce-on-plateau's own record
        progress["plateau"] = {"best": None, "best_epoch": None, "bad_epochs": 0}
    return progress


def fit(model, optimizer, loss_fn, batches, plan, hooks, progress, rate, validation=None, steps_per_epoch=1):
    """Train `model` for plan["epochs"] from `progress`; the status: "completed", "early_stopped",
    "stopped" (a hook asked) or "nan" (the loss stopped being a number).

    `batches(epoch)` gives the epoch's (x, y) batches on the device (`steps_per_epoch` of
    them: the schedules count steps), `validation()` the validation batches; `rate` is the
    runtime function the schedule names; `hooks` also holds mixed precision's `autocast` context
    and fp16 `scaler`, the `metric` function the loss names and the `device`.
    """
    epochs, name, clip = plan["epochs"], plan["metric_name"], plan["grad_clip"]
    schedule, float_targets = plan["schedule"], plan["float_targets"]
    autocast = hooks.autocast
    scaler = hooks.scaler
    every_step = rate.__name__ != "constant_rate" or schedule.get("warmup_epochs", 0)
    if every_step or plan["plateau"]:  # the rate of the step the run starts from
        group = optimizer.param_groups[0]
        base = group.setdefault("initial_lr", group["lr"])  # as torch's schedulers
        steps = steps_per_epoch
        set_learning_rate(optimizer, learning_rate(progress["step"], base, schedule, rate, steps, epochs, progress["scale"]))
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for epoch in range(progress["epoch"] + 1, epochs + 1):
        if hooks.on_epoch_start(epoch):
            return "stopped"
        start = time.perf_counter()
        model.train()
        for x, y in batches(epoch):
            if float_targets:
                y = y.float()
            with autocast:
                logits = model(x)  # 3. forward pass: the model's scores for the batch
                loss = loss_fn(logits, y)  # 4. the loss: how far they are from the targets
            optimizer.zero_grad()  # 4. clear the last step's gradients
            if scaler is None:
                loss.backward()  # 4. and compute new ones (backpropagation)
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
                optimizer.step()  # 5. step: move each weight a little against its gradient
            else:  # fp16: scale the loss up so small gradients do not round to zero
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
                scaler.step(optimizer)
                scaler.update()
            progress["step"] += 1
            if every_step:
                lr = learning_rate(progress["step"], base, schedule, rate, steps, epochs, progress["scale"])
                set_learning_rate(optimizer, lr)
            if hooks.on_step(loss, logits, y):
                return "stopped"
        seconds = time.perf_counter() - start
        loss_sum, metric_sum, n = hooks.epoch_sums(epoch)  # summed over the epoch; n: its samples
        metrics = {"epoch": epoch, "train_loss": loss_sum / n, f"train_{name}": metric_sum / n}
        if not math.isfinite(metrics["train_loss"]):
            return "nan"
        if validation is not None:
            metrics.update(evaluate(model, validation(), loss_fn, hooks, name, float_targets))
        if plan["perplexity"]:
            with_perplexity(metrics)
        lr, speed = optimizer.param_groups[0]["lr"], n / seconds if seconds > 0 else 0.0
        metrics.update(lr=lr, samples_per_s=speed, seconds=time.perf_counter() - start)
        progress["epoch"] = epoch
        progress["history"].append(metrics)
        value = metrics.get(plan["monitor"])
        if plan["plateau"] and reduce_on_plateau(progress, value, schedule, plan["mode"]):
            set_learning_rate(optimizer, learning_rate(progress["step"], base, schedule, rate, steps, epochs, progress["scale"]))
        stop = plan["early_stopping"]
        min_delta = stop.get("min_delta", 0.0) if stop else None  # None: no count of bad epochs
        improved = record(progress, value, epoch, plan["mode"], min_delta)
        hooks.on_epoch_end(epoch, metrics, improved)
        if stop and progress["bad_epochs"] >= stop["patience"] and epoch < epochs:
            return "early_stopped"
    return "completed"


def reduce_on_plateau(progress, value, schedule, mode):
    """True when the monitored `value` has not improved for more than schedule["patience"]
    epochs: then the rate is scaled by schedule["factor"] and the count starts again."""
    plateau = progress["plateau"]
    if record(plateau, value, None, mode) or plateau["bad_epochs"] <= schedule["patience"]:
        return False
    progress["scale"], plateau["bad_epochs"] = progress["scale"] * schedule["factor"], 0
    return True
