"""The training loop. It knows nothing of its display: it reports to callbacks and obeys a RunControl.

Per step it runs forward, loss, backward and optimizer step and appends three references to a
buffer; values are copied to the host only at reporting points (every `report_seconds`, at most
`report_every` steps apart, and at
epoch ends), so there is no device sync per step. Faults end the run with a `Failure` whose
message names the cause; epochs already done stay in the history and the checkpoints.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import torch
from torch import nn

from studio.training import checkpoints
from studio.training.batches import DataFault, LoaderBatches, last_line, make_batches
from studio.training.callbacks import EpochReport, Failure, RunInfo, RunResult, StepReport
from studio.training.control import RunControl, model_failure, resolve_device
from studio.training.datasets import Data
from studio.training.first_batch import CheckError, check_first_batch
from studio.training.kinds import get_loss
from studio.training.metrics import StepMetrics, metric_function
from studio.training.optim import LRSchedule, make_loss, make_optimizer, optimizer_description
from studio.training.runtime.loop import evaluate, train_step
from studio.training.runtime.metrics import with_perplexity
from studio.training.runtime.schedules import Monitor
from studio.training.runtime.threads import choose_threads
from studio.training.settings import TrainingSettings


class _StopRun(Exception):
    pass


class _CallbackFault(Exception):
    pass


class _NonFinite(Exception):
    def __init__(self, step: int, epoch: int, batch: int, value: float):
        self.step, self.epoch, self.batch, self.value = step, epoch, batch, value


# -- the trainer ----------------------------------------------------------------------------------------


class Trainer:
    """Trains `model` on `data` as `settings` say; `fit()` returns a RunResult and never raises for
    user-fixable problems (they come back as `result.failure` and through `on_failure`)."""

    def __init__(
        self,
        model: nn.Module,
        data: Data,
        settings: TrainingSettings,
        callbacks=(),
        out_dir: str | Path | None = None,
        control: RunControl | None = None,
        expected_input_shape: tuple | None = None,
        max_threads: int | None = None,
    ):
        self.model, self.data, self.settings = model, data, settings
        #: at most this many CPU threads (the window keeps a core for its GUI); see choose_threads
        self.max_threads = max_threads
        self.callbacks = list(callbacks)
        self.out_dir = Path(out_dir) if out_dir else None
        self.control = control or RunControl()
        self.expected_input_shape = tuple(expected_input_shape) if expected_input_shape else None
        self.history: list[dict] = []
        self.step = 0
        self.epoch = 0

    # public controls (thread-safe) -----------------------------------------------------------

    def stop(self) -> None:
        self.control.stop()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    # the run ---------------------------------------------------------------------------------

    def fit(self, resume_from: str | Path | None = None) -> RunResult:
        s = self.settings
        self._result = RunResult("failed", monitor=s.resolved_monitor())
        errs = s.validate(data=False)  # the data is loaded already
        if errs:
            return self._fail(Failure("settings", " ".join(errs)))
        try:
            self._setup(resume_from)
        except (CheckError, checkpoints.CheckpointError) as e:
            kind = "checkpoint" if isinstance(e, checkpoints.CheckpointError) else "check"
            return self._fail(Failure(kind, str(e)))
        except DataFault as e:
            return self._fail(Failure("data", f"Reading the data failed: {e}"))
        except Exception as e:
            return self._fail(model_failure(e, "The model failed on the first batch"))

        try:
            self._emit("on_run_start", self.info)
        except _CallbackFault as e:
            return self._fail(Failure("error", str(e)))
        status, message = "completed", ""
        try:
            while self.epoch < s.epochs:
                if self.control.stop_requested:
                    raise _StopRun
                early = self._run_epoch()
                if early:
                    status = "early_stopped"
                    message = (
                        f"Stopped early after epoch {self.epoch}: {self._result.monitor} did not improve "
                        f"for {s.early_stopping.patience} epochs (best {self.monitor.best:.4g} at epoch {self.monitor.best_epoch})."
                    )
                    break
        except _StopRun:
            status, message = "stopped", f"Stopped by request after {self.epoch} epoch(s), step {self.step}."
        except _NonFinite as e:
            return self._fail(Failure(
                "nan",
                f"The loss became {e.value} at step {e.step} (epoch {e.epoch}, batch {e.batch}). "
                "Try a lower learning rate, gradient clipping, or check the data for NaN values.",
                epoch=e.epoch, step=e.step,
            ))
        except _CallbackFault as e:
            return self._fail(Failure("error", str(e), epoch=self.epoch + 1))
        except DataFault as e:
            return self._fail(Failure("data", f"Reading the data failed in epoch {self.epoch + 1}: {e}", epoch=self.epoch + 1))
        except torch.cuda.OutOfMemoryError:
            return self._fail(Failure(
                "oom",
                f"The GPU ran out of memory with batch size {s.batch_size}. "
                f"Try a smaller batch size (e.g. {max(1, s.batch_size // 2)}) or a smaller model.",
                epoch=self.epoch + 1, step=self.step,
            ))
        except Exception as e:
            f = model_failure(e, f"Training failed in epoch {self.epoch + 1}")
            f.epoch, f.step = self.epoch + 1, self.step
            return self._fail(f)
        return self._finish(status, message)

    # setup -----------------------------------------------------------------------------------

    def _setup(self, resume_from) -> None:
        s, data = self.settings, self.data
        self.device = resolve_device(s.device)
        _, threads = choose_threads(self.device, self.max_threads)
        self.model.to(self.device)
        self.loss_fn = make_loss(s.loss)
        self._float_targets = get_loss(s.loss.name).target == "multilabel"  # BCE takes float targets
        self.gen = torch.Generator().manual_seed(s.seed)
        self.train_batches = make_batches(data.train, s.batch_size, s.shuffle, self.device, s.resolved_workers(), s.seed)
        self.val_batches = (
            make_batches(data.val, s.batch_size, False, self.device, s.resolved_workers(), s.seed) if data.val is not None else None
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise CheckError("The model has no trainable parameters; add a layer with weights.")
        self.optimizer = make_optimizer(self.params, s, self.device)
        self.schedule = LRSchedule(self.optimizer, s, len(self.train_batches))
        amp = s.precision != "none" and self.device.type == "cuda"
        dtype = torch.bfloat16 if s.precision == "bf16" else torch.float16
        self.autocast = torch.autocast("cuda", dtype=dtype) if amp else contextlib.nullcontext()
        self.scaler = torch.amp.GradScaler("cuda") if amp and s.precision == "fp16" else None
        self.metrics = StepMetrics(s.loss.name)
        monitor = self._result.monitor
        self.monitor = Monitor(s.monitor_mode(), s.early_stopping.min_delta)  # best checkpoint, early stop
        self.check_batch()
        if resume_from:
            self._restore(checkpoints.load(resume_from))
        else:
            checkpoints.seed_everything(s.seed)
        n_val = len(data.val) if data.val is not None else 0
        self.info = RunInfo(
            epochs=s.epochs, start_epoch=self.epoch, steps_per_epoch=len(self.train_batches),
            train_samples=len(data.train), val_samples=n_val, device=str(self.device), task=data.task,
            metric_name=s.metric_name, monitor=monitor, description=data.description,
        )
        self.info.notes.append(f"Running with {threads} and {optimizer_description(self.optimizer)}.")
        if s.precision != "none" and self.device.type != "cuda":
            self.info.notes.append(f"Mixed precision ({s.precision}) is off: it needs a CUDA GPU (running on {self.device}).")

    def check_batch(self) -> None:
        """Run two samples through the model and the loss; raise CheckError naming any mismatch."""
        check_first_batch(self.model, self.data, self.settings, self.device, self.autocast, self.loss_fn,
                          self.expected_input_shape, self._float_targets)

    # one epoch -------------------------------------------------------------------------------

    def _run_epoch(self) -> bool:
        s = self.settings
        epoch = self.epoch + 1
        t0 = time.perf_counter()
        self._epoch_loss = self._epoch_metric = 0.0
        self._epoch_n = 0
        self._epoch_start = t0
        self._report_t, self._report_samples = t0, 0
        if self._run_t0 is None:
            self._run_t0, self._run_steps0 = t0, self.step
        self._train_epoch(epoch)
        train_s = time.perf_counter() - t0
        m = {
            "epoch": epoch,
            "train_loss": self._epoch_loss / max(1, self._epoch_n),
            f"train_{s.metric_name}": self._epoch_metric / max(1, self._epoch_n),
        }
        if self.val_batches is not None:
            vl, vm = self._validate()
            m["val_loss"], m[f"val_{s.metric_name}"] = vl, vm
        if get_loss(s.loss.name).perplexity:
            m = with_perplexity(m)
        m["lr"] = self.schedule.lr
        m["samples_per_s"] = self._epoch_n / train_s if train_s > 0 else 0.0
        m["seconds"] = time.perf_counter() - t0
        self.epoch = epoch
        self.history.append(m)

        monitored = m.get(self._result.monitor)
        self.schedule.epoch_end(monitored)
        improved = self.monitor.update(monitored, epoch)
        es = s.early_stopping
        self._checkpoint(improved)
        eta = self._eta((s.epochs - epoch) * len(self.train_batches))
        report = EpochReport(epoch, s.epochs, m, improved, self._result.monitor, eta)
        self._emit("on_epoch_end", report)
        return es.enabled and self.monitor.bad_epochs >= es.patience and epoch < s.epochs

    def _train_epoch(self, epoch: int) -> None:
        s = self.settings
        model, loss_fn, opt = self.model, self.loss_fn, self.optimizer
        sched = self.schedule if self.schedule.active else None
        scaler, clip, params = self.scaler, float(s.grad_clip), self.params
        acc = self.metrics
        losses, outs, ys, sizes = acc.losses, acc.outs, acc.ys, acc.sizes
        ctrl, autocast = self.control, self.autocast
        to_device, dev = self.train_batches.to_device, self.device
        bce = self._float_targets
        report_every, report_seconds = s.report_every, float(s.report_seconds)
        next_report = report_every
        clock = time.perf_counter
        deadline = clock() + report_seconds
        budget = acc.budget
        batch = 0
        model.train()
        for xb, yb in self.train_batches.epoch(self.gen):
            if to_device:
                xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            if bce:
                yb = yb.float()
            loss, out = train_step(model, xb, yb, loss_fn, opt, params, clip, scaler, autocast)
            if sched is not None:
                sched.step()
            losses.append(loss.detach())
            outs.append(out.detach())
            ys.append(yb)
            sizes.append(yb.shape[0])
            batch += 1
            acc.pending += out.numel()
            if acc.pending > budget:
                acc.fold()
            if batch >= next_report or clock() >= deadline:
                self._report(epoch, batch)
                next_report = batch + report_every
                deadline = clock() + report_seconds
            if ctrl.attention:
                if ctrl.stop_requested:
                    break
                self._report(epoch, batch)
                ctrl.wait()
                if ctrl.stop_requested:
                    break
        if len(acc):
            self._report(epoch, batch)
        if ctrl.stop_requested:
            raise _StopRun

    def _report(self, epoch: int, batch: int) -> None:
        n_steps = len(self.metrics)
        if n_steps == 0:
            return
        losses, msums, sizes = self.metrics.read()
        first = self.step + 1
        self.step += n_steps
        total_loss = total_metric = 0.0
        n = 0
        for i, (loss, msum, size) in enumerate(zip(losses, msums, sizes, strict=True)):
            if not math.isfinite(loss):
                b = batch - n_steps + i + 1
                raise _NonFinite(first + i, epoch, b, loss)
            total_loss += loss * size
            total_metric += msum
            n += size
        self._epoch_loss += total_loss
        self._epoch_metric += total_metric
        self._epoch_n += n
        now = time.perf_counter()
        dt = now - self._report_t
        rate = n / dt if dt > 0 else 0.0
        self._report_t = now
        report = StepReport(
            epoch=epoch, batch=batch, batches=len(self.train_batches), step=self.step,
            losses=losses, metrics=[m / sz for m, sz in zip(msums, sizes, strict=True)],
            loss=total_loss / n, metric=total_metric / n, lr=self.schedule.lr,
            samples_per_s=rate,
            eta_s=self._eta(len(self.train_batches) * (self.settings.epochs - epoch + 1) - batch),
        )
        self._emit("on_step_end", report)

    def _emit(self, method: str, *args) -> None:
        for cb in self.callbacks:
            try:
                getattr(cb, method)(*args)
            except (_StopRun, KeyboardInterrupt):
                raise
            except Exception as e:
                raise _CallbackFault(
                    f"{type(cb).__name__}.{method} failed: {type(e).__name__}: {last_line(e)}"
                ) from e

    def _eta(self, steps_left: int) -> float:
        """Seconds left, from this run's average time per step (validation included)."""
        done = self.step - self._run_steps0
        if done <= 0:
            return 0.0
        return (time.perf_counter() - self._run_t0) / done * max(0, steps_left)

    def _validate(self) -> tuple[float, float]:
        sums = evaluate(
            self.model, self.val_batches.epoch(self.gen), self.loss_fn, metric_function(self.settings.loss.name),
            self.device, self.autocast, self._float_targets,
        )
        vl, vm = torch.stack(sums[:2]).tolist()
        return vl / max(1, sums[2]), vm / max(1, sums[2])

    # checkpoints and endings ----------------------------------------------------------------

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "epoch": self.epoch,
            "step": self.step,
            "rng": checkpoints.rng_state(*self._generators()),
            "history": self.history,
            **self.monitor.state_dict(),  # best, best_epoch, bad_epochs
            "settings": self.settings.to_dict(),
        }

    def _generators(self) -> list[torch.Generator]:
        gens = [self.gen]
        for b in (self.train_batches, self.val_batches):
            if isinstance(b, LoaderBatches):
                gens.append(b.worker_gen)
        return gens

    def _restore(self, st: dict) -> None:
        try:
            self.model.load_state_dict(st["model"])
        except RuntimeError as e:
            raise checkpoints.CheckpointError(f"The checkpoint does not fit this model: {last_line(e)}") from e
        try:
            self.optimizer.load_state_dict(st["optimizer"])
        except (ValueError, KeyError) as e:
            raise checkpoints.CheckpointError(
                f"The checkpoint was saved with a different optimizer ({last_line(e)}); resume with the same settings."
            ) from e
        self.schedule.load_state_dict(st["schedule"])
        if self.scaler and st["scaler"]:
            self.scaler.load_state_dict(st["scaler"])
        self.epoch, self.step = int(st["epoch"]), int(st["step"])
        self.history = list(st["history"])
        self.monitor.load_state_dict(st)
        checkpoints.set_rng_state(st["rng"], *self._generators())

    def _checkpoint(self, improved: bool) -> None:
        if self.out_dir is None:
            return
        folder = self.out_dir / "checkpoints"
        state = self.state()
        path = checkpoints.save(folder / "last.pt", state)
        self._emit("on_checkpoint", path, "last", self.epoch)
        if improved:
            path = checkpoints.save(folder / "best.pt", state)
            self._emit("on_checkpoint", path, "best", self.epoch)

    def _save_weights(self) -> Path | None:
        if self.out_dir is None:
            return None
        if not all(torch.isfinite(t).all() for t in self.model.state_dict().values() if t.is_floating_point()):
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / "weights.pt"
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, path)
        return path

    def _fill_result(self, status: str, message: str) -> RunResult:
        r = self._result
        r.status, r.message, r.history = status, message, list(self.history)
        monitor = getattr(self, "monitor", None)
        r.best_epoch, r.best_value = (monitor.best_epoch, monitor.best) if monitor else (None, None)
        r.checkpoint_dir = self.out_dir / "checkpoints" if self.out_dir and self.history else None
        return r

    def _finish(self, status: str, message: str) -> RunResult:
        r = self._fill_result(status, message or f"Finished {self.epoch} epoch(s).")
        r.weights_path = self._save_weights()
        self._emit_last(["on_run_end"], r, r)
        return r

    def _fail(self, failure: Failure) -> RunResult:
        if failure.epoch is not None and self.history:
            kept = " and in checkpoints/last.pt" if self.out_dir else ""
            failure.message += f" Epochs 1-{self.epoch} are kept in the history{kept}."
        r = self._fill_result("failed", failure.message)
        r.failure = failure
        if failure.kind not in ("nan",) and self.history:
            r.weights_path = self._save_weights()
        self._emit_last(["on_failure", "on_run_end"], r, failure, r)
        return r

    def _emit_last(self, methods: list[str], r: RunResult, *args) -> None:
        """Final notifications: a failing callback cannot undo the run, so it is noted, not raised."""
        for cb in self.callbacks:
            for method, arg in zip(methods, args, strict=True):
                try:
                    getattr(cb, method)(arg)
                except Exception as e:
                    r.message += f" ({type(cb).__name__}.{method} failed: {type(e).__name__}: {last_line(e)})"

    _run_t0: float | None = None
    _run_steps0 = 0
