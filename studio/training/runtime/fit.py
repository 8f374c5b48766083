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
from studio.training.runtime.schedules import Monitor, learning_rate, set_learning_rate


class Hooks:
    """What `fit` tells the code around it. Override what you need."""

    def on_epoch_start(self, epoch):
        """Before each epoch; True stops the run."""
        return False

    def on_step(self, loss, logits, y):
        """After each optimizer step (the values still on the device); True stops the run."""
        return False

    def epoch_sums(self, epoch):
        """(loss sum, metric sum, samples) of the epoch's training steps, over all processes."""
        raise NotImplementedError

    def reduce(self, *values):
        """The sums of `values` over all processes (one process: the values themselves)."""
        return values

    def on_epoch_end(self, epoch, metrics, improved):
        """After each epoch; `improved`: the monitored metric is the best so far."""


class Progress:
    """Where a run stands: epochs and steps done, the plateau's rate multiplier, the best value
    of the monitored metric and the epochs since, and each epoch's metrics. A checkpoint saves
    it (`state_dict`), so a resumed run goes on exactly where it stopped."""

    def __init__(self, plan):
        stop = plan["early_stopping"] or {}
        self.epoch, self.step, self.scale, self.history = 0, 0, 1.0, []
        self.best = Monitor(plan["mode"], stop.get("min_delta", 0.0))
        self.plateau = Monitor(plan["mode"])

    def state_dict(self):
        state = {"epoch": self.epoch, "step": self.step, "scale": self.scale, "history": self.history}
        return {**state, "plateau": self.plateau.state_dict(), **self.best.state_dict()}

    def load_state_dict(self, state):
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.scale, self.history = float(state["scale"]), list(state["history"])
        self.plateau.load_state_dict(state["plateau"])
        self.best.load_state_dict(state)


def fit(model, optimizer, loss_fn, batches, plan, hooks, progress, metric, rate, steps_per_epoch,
        validation=None, device="cpu", autocast=None, scaler=None):
    """Train `model` for plan["epochs"] from `progress`; the status: "completed", "early_stopped",
    "stopped" (a hook asked) or "nan" (the loss stopped being a number).

    `batches(epoch)` gives the epoch's (x, y) batches on the device, `validation()` the
    validation batches; `metric` and `rate` are the runtime functions the loss and the schedule
    name; `autocast` and `scaler` are mixed precision's context and fp16 gradient scaler.
    """
    epochs = plan["epochs"]
    schedule = plan["schedule"]
    name = plan["metric_name"]
    clip = plan["grad_clip"]
    float_targets = plan["float_targets"]
    group = optimizer.param_groups[0]
    base = group.setdefault("initial_lr", group["lr"])  # as torch's schedulers
    params = [p for group in optimizer.param_groups for p in group["params"]]
    autocast = autocast or contextlib.nullcontext()
    scheduled = rate.__name__ != "constant_rate" or schedule.get("warmup_epochs", 0)
    set_learning_rate(optimizer, learning_rate(progress.step, base, schedule, rate, steps_per_epoch, epochs,
                                               progress.scale))
    for epoch in range(progress.epoch + 1, epochs + 1):
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
            progress.step += 1
            if scheduled:
                set_learning_rate(optimizer, learning_rate(progress.step, base, schedule, rate, steps_per_epoch,
                                                           epochs, progress.scale))
            if hooks.on_step(loss, logits, y):
                return "stopped"
        seconds = time.perf_counter() - start
        loss_sum, metric_sum, count = hooks.epoch_sums(epoch)
        n = max(1, count)
        metrics = {"epoch": epoch, "train_loss": loss_sum / n, f"train_{name}": metric_sum / n}
        if not math.isfinite(metrics["train_loss"]):
            return "nan"
        if validation is not None:
            sums = evaluate(model, validation(), loss_fn, metric, device, autocast, float_targets)
            val_loss, val_metric, val_count = hooks.reduce(*torch.stack(sums[:2]).tolist(), sums[2])
            n = max(1, val_count)
            metrics.update({"val_loss": val_loss / n, f"val_{name}": val_metric / n})
        if plan["perplexity"]:
            metrics = with_perplexity(metrics)
        speed = count / seconds if seconds > 0 else 0.0
        metrics.update(lr=group["lr"], samples_per_s=speed, seconds=time.perf_counter() - start)
        progress.epoch = epoch
        progress.history.append(metrics)
        value = metrics.get(plan["monitor"])
        if plan["plateau"] and reduce_on_plateau(progress, value, schedule):
            set_learning_rate(optimizer, learning_rate(progress.step, base, schedule, rate, steps_per_epoch,
                                                       epochs, progress.scale))
        improved = progress.best.update(value, epoch)
        hooks.on_epoch_end(epoch, metrics, improved)
        stop = plan["early_stopping"]
        if stop and progress.best.bad_epochs >= stop["patience"] and epoch < epochs:
            return "early_stopped"
    return "completed"


def reduce_on_plateau(progress, value, schedule):
    """True when the monitored `value` has not improved for more than schedule["patience"]
    epochs: then the rate is scaled by schedule["factor"] and the count starts again."""
    if progress.plateau.update(value) or progress.plateau.bad_epochs <= schedule["patience"]:
        return False
    progress.scale, progress.plateau.bad_epochs = progress.scale * schedule["factor"], 0
    return True
