"""The training loop. It knows nothing of its display: it reports to callbacks and obeys a RunControl.

Per step it runs forward, loss, backward and optimizer step and appends three references to a
buffer; values are copied to the host only at reporting points (about every `report_seconds`,
counted in steps from the last report's pace, at most `report_every` steps apart, and at epoch
ends), so there is no device sync and no clock read per step. Faults end the run with a `Failure` whose
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
from studio.training.baseline import baseline_warning
from studio.training.batches import DataFault, LoaderBatches, last_line, make_batches
from studio.training.callbacks import EpochReport, Failure, RunInfo, RunResult, StepReport
from studio.training.control import RunControl, model_failure, resolve_device
from studio.training.cost import fit_note
from studio.training.datasets import Data
from studio.training.first_batch import CheckError, check_first_batch
from studio.training.kinds import get_schedule
from studio.training.metrics import StepMetrics, metric_function
from studio.training.optim import make_loss, make_optimizer, optimizer_description
from studio.training.plan import loop_plan
from studio.training.run_summary import epochs, finished
from studio.training.runtime import schedules
from studio.training.runtime.balance import sample_weights, weigh_classes
from studio.training.runtime.fit import Hooks, fit, new_progress
from studio.training.runtime.script_main import save_weights
from studio.training.runtime.targets import standardized_targets
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


class Trainer(Hooks):
    """Trains `model` on `data` as `settings` say; `fit()` returns a RunResult and never raises for
    user-fixable problems (they come back as `result.failure` and through `on_failure`).

    The loop is the runtime's `fit` (the one train.py runs); the Trainer is its hooks: it buffers
    each step's values on the device and reports them to its callbacks at reading points, obeys
    pause and stop, and saves checkpoints at epoch ends.
    """

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
        compile: bool = False,
    ):
        self.model, self.data, self.settings = model, data, settings
        #: at most this many CPU threads (the window keeps a core for its GUI); see choose_threads
        self.max_threads = max_threads
        self.callbacks = list(callbacks)
        self.out_dir = Path(out_dir) if out_dir else None
        self.control = control or RunControl()
        self.expected_input_shape = tuple(expected_input_shape) if expected_input_shape else None
        #: opt-in: train through torch.compile (the first steps compile; pays for long runs of
        #: models with many small kernels); the weights stay those of `model`
        self.compile = compile
        self.progress: dict | None = None  # where the run stands (`fit.new_progress`)

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
            status = self._fit()
            if status == "stopped":
                raise _StopRun
            if status == "early_stopped":
                message = (
                    f"Stopped early after epoch {self.epoch}: {self._result.monitor} did not improve "
                    f"for {s.early_stopping.patience} epochs (best {self.progress['best']:.4g} at epoch {self.progress['best_epoch']})."
                )
        except _StopRun:
            status, message = "stopped", f"Stopped by request after {epochs(self.epoch)}, step {self.step}."
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
        except checkpoints.WriteError as e:  # a full disk or a folder gone read-only mid-run
            return self._fail(Failure(
                "write", f"{e} Training stopped after epoch {self.epoch}; what was written before is kept.",
            ))
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
        self.plan = loop_plan(s)
        if getattr(s.loss, "class_weights", False):  # unbalanced classes (`runtime.balance`)
            weigh_classes(self.loss_fn, data.train, data.num_classes, self.device)
        shuffle = sample_weights(data.train) if s.balanced else s.shuffle
        self.gen = torch.Generator().manual_seed(s.seed)
        self.train_batches = make_batches(data.train, s.batch_size, shuffle, self.device, s.resolved_workers(), s.seed)
        self.val_batches = (
            make_batches(data.val, s.batch_size, False, self.device, s.resolved_workers(), s.seed) if data.val is not None else None
        )
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if not self.params:
            raise CheckError("The model has no trainable parameters; add a layer with weights.")
        self.optimizer = lean_optimizer(make_optimizer(self.params, s, self.device))
        self.rate = getattr(schedules, get_schedule(s.schedule.name).rate)
        amp = s.precision != "none" and self.device.type == "cuda"
        dtype = torch.bfloat16 if s.precision == "bf16" else torch.float16
        self.autocast = torch.autocast("cuda", dtype=dtype) if amp else contextlib.nullcontext()
        self.scaler = torch.amp.GradScaler("cuda") if amp and s.precision == "fp16" else None
        self.metrics = StepMetrics(s.loss.name)
        self.metric = metric_function(s.loss.name)
        monitor = self._result.monitor
        self.progress = new_progress(self.plan)  # epochs, steps, best checkpoint, early stop, plateau
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
        self.info.notes.append(f"Running with {threads}. Optimizer: {optimizer_description(self.optimizer)}.")
        if getattr(data, "target_scale", None):
            self.info.notes.append(target_note(data.target_scale))
        if s.precision != "none" and self.device.type != "cuda":
            self.info.notes.append(f"Mixed precision ({s.precision}) is off: it needs a CUDA GPU (running on {self.device}).")
        memory = self.device.type == "cuda" and fit_note(
            self.model, data.input_shape, _sample_dtype(data), s, self.device
        )
        if memory:
            self.info.notes.append(memory)

    def check_batch(self) -> None:
        """Run two samples through the model and the loss; raise CheckError naming any mismatch."""
        check_first_batch(self.model, self.data, self.settings, self.device, self.autocast, self.loss_fn,
                          self.expected_input_shape)

    # where the run stands (the loop's Progress) --------------------------------------------

    @property
    def epoch(self) -> int:
        return self.progress["epoch"] if self.progress else 0

    @property
    def step(self) -> int:
        return self._reported_step

    @property
    def history(self) -> list[dict]:
        return self.progress["history"] if self.progress else []

    # the loop: the runtime's fit, with this trainer as its hooks -----------------------------

    def _fit(self) -> str:
        s = self.settings
        self._run_t0, self._run_steps0 = time.perf_counter(), self.progress["step"]
        self._reported_step = self.progress["step"]
        self._report_every, self._report_seconds = s.report_every, float(s.report_seconds)
        # steps between reports: a few at first (the window shows the run start at once), then
        # as many as take about report_seconds
        self._interval = min(self._report_every, 8)
        train, device = self.train_batches, self.device

        def batches(epoch, source=train):
            if source.to_device:
                return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in source.epoch(self.gen))
            return source.epoch(self.gen)

        validation = (lambda: batches(None, self.val_batches)) if self.val_batches is not None else None
        model = torch.compile(self.model) if self.compile else self.model  # shares the parameters
        if getattr(self.data, "target_scale", None):  # regression: learn (y - mean) / std, report in the data's units
            model, self.loss_fn = standardized_targets(model, self.loss_fn, self.data.target_scale, device)
        status = fit(model, self.optimizer, self.loss_fn, batches, self.plan, self, self.progress, self.rate,
                     validation, len(train))
        self.model.train()  # validation leaves it in evaluation mode; hand it back in training mode
        if status == "nan":
            raise _NonFinite(self.step, self.epoch + 1, len(train), self._nan_value)
        return status

    def on_epoch_start(self, epoch: int) -> bool:
        if self.control.stop_requested:
            return True
        now = time.perf_counter()
        self._epoch = epoch
        self._epoch_loss = self._epoch_metric = 0.0
        self._epoch_n = 0
        self._report_t = now
        self._batch = 0
        self._next_report = self._interval
        return False

    def on_step(self, loss, logits, y) -> bool:
        # Studio's own work per step: list appends and two detaches, no clock, no kernel, no sync
        acc = self.metrics
        acc.losses.append(loss.detach())
        acc.outs.append(logits.detach())
        acc.ys.append(y)
        acc.sizes.append(y.shape[0])
        self._batch = batch = self._batch + 1
        acc.pending += logits.numel()
        if acc.pending > acc.budget:
            acc.fold()
        if batch >= self._next_report:
            self._report(self._epoch, batch)
            self._next_report = batch + self._interval
        ctrl = self.control
        if ctrl.attention:
            if ctrl.stop_requested:
                return True
            self._report(self._epoch, batch)
            ctrl.wait()
            return ctrl.stop_requested
        return False

    def epoch_sums(self, epoch: int) -> tuple[float, float, int]:
        if len(self.metrics):
            self._report(epoch, self._batch)
        self._nan_value = self._epoch_loss
        return self._epoch_loss, self._epoch_metric, self._epoch_n

    def on_epoch_end(self, epoch: int, metrics: dict, improved: bool) -> None:
        s = self.settings
        self._checkpoint(improved)
        eta = self._eta((s.epochs - epoch) * len(self.train_batches))
        self._emit("on_epoch_end", EpochReport(epoch, s.epochs, metrics, improved, self._result.monitor, eta))

    def _report(self, epoch: int, batch: int) -> None:
        n_steps = len(self.metrics)
        if n_steps == 0:
            return
        losses, msums, sizes = self.metrics.read()
        first = self._reported_step + 1
        self._reported_step += n_steps
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
        # reports are counted in steps (a clock read per step costs more than the step's own
        # bookkeeping): as many steps as took about report_seconds, at most report_every
        per_step = dt / n_steps if dt > 0 else 0.0
        fit = int(self._report_seconds / per_step) if per_step > 0 else self._report_every
        self._interval = max(1, min(self._report_every, fit))
        report = StepReport(
            epoch=epoch, batch=batch, batches=len(self.train_batches), step=self._reported_step,
            losses=losses, metrics=[m / sz for m, sz in zip(msums, sizes, strict=True)],
            loss=total_loss / n, metric=total_metric / n, lr=self.optimizer.param_groups[0]["lr"],
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

    # checkpoints and endings ----------------------------------------------------------------

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else {},
            **self.progress,  # epoch, step, history, best, bad epochs, plateau
            "rng": checkpoints.rng_state(*self._generators()),
            "settings": self.settings.to_dict(),
            # what the outputs mean (`runtime.targets.save_output_info`): plain lists, weights_only-safe
            "class_names": getattr(self.data, "class_names", None),
            "target_scale": getattr(self.data, "target_scale", None),
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
        if self.scaler and st["scaler"]:
            self.scaler.load_state_dict(st["scaler"])
        if "plateau" not in st and "schedule" in st:  # written before the loop moved to the runtime
            st = {**st, "scale": st["schedule"]["scale"], "plateau": st["schedule"]}
        try:
            self.progress.update({key: st[key] for key in ("epoch", "step", "scale", "history", "best", "bad_epochs")})
        except KeyError as e:
            raise checkpoints.CheckpointError(
                f"The checkpoint was written by an older Studio (no {e.args[0]!r}); start a new run."
            ) from e
        self.progress["best_epoch"] = st.get("best_epoch")  # not in checkpoints of Studio 0.1's first runs
        if "plateau" in self.progress and st.get("plateau"):
            saved = st["plateau"]
            self.progress["plateau"] = {"best": saved["best"], "best_epoch": saved.get("best_epoch"),
                                        "bad_epochs": int(saved["bad_epochs"])}
        self._reported_step = self.progress["step"]
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
        path = self.out_dir / "weights.pt"
        info = {"class_names": getattr(self.data, "class_names", None),
                "target_scale": getattr(self.data, "target_scale", None),
                "normalization": getattr(self.data, "normalization", None) or None}
        try:  # a full disk: the run's result still comes back, with why the weights are missing
            return path if save_weights(self.model, path, info) else None  # and weights.json: what the outputs mean
        except (OSError, RuntimeError) as e:
            self._result.message = f"{self._result.message} {checkpoints.write_error(path, e)}".strip()
            return None

    def _fill_result(self, status: str, message: str) -> RunResult:
        r = self._result
        r.status, r.message, r.history = status, message, list(self.history)
        progress = self.progress or {}
        r.best_epoch, r.best_value = progress.get("best_epoch"), progress.get("best")
        r.checkpoint_dir = self.out_dir / "checkpoints" if self.out_dir and self.history else None
        return r

    def _finish(self, status: str, message: str) -> RunResult:
        done = finished(self.history, (self.progress or {}).get("best_epoch"), self._result.monitor)
        r = self._fill_result(status, message or done)
        r.weights_path = self._save_weights()
        warning = baseline_warning(self.data, self.loss_fn, r.history)  # a regression no better than the mean
        r.warnings += [warning] if warning else []
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
    _reported_step = 0
    _nan_value = math.nan


def lean_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """``optimizer``, its ``zero_grad()`` and ``step()`` without torch's profiler ranges.

    torch opens a ``record_function`` range in every ``zero_grad()`` and ``step()`` even when no
    profiler runs: on the 2-core machine torch's zero_grad took 13-20 us against 0.5-1 us for
    setting the gradients to None (what it does by default), and a small MLP's fused Adam step
    160 us against 100 us under the wrapper. That is more than all of the trainer's own work per
    step (about 5 us: appends, two detaches), so without them the trainer's step costs less than
    the hand-written loop's (``benchmarks/trainer_overhead.py``). The step is torch's own
    function under the wrapper that opens the range; while any step hook is registered (none
    is, in Studio), or where this torch does not wrap its step that way, ``step()`` is torch's
    whole. A profile of a Studio run shows no ``Optimizer.step`` ranges: ``studio profile``
    times its own steps."""
    torch_zero_grad = optimizer.zero_grad

    def zero_grad(set_to_none: bool = True) -> None:
        if not set_to_none:
            return torch_zero_grad(set_to_none)
        for group in optimizer.param_groups:
            for p in group["params"]:
                p.grad = None

    optimizer.zero_grad = zero_grad
    wrapped = type(optimizer).step
    inner = getattr(wrapped, "__wrapped__", None)  # Optimizer.profile_hook_step's functools.wraps
    from torch.optim import optimizer as torch_optimizer

    hooks = tuple(
        getattr(torch_optimizer, f"_global_optimizer_{when}_hooks", None) for when in ("pre", "post")
    )
    if getattr(wrapped, "hooked", False) and inner is not None and None not in hooks:
        own = tuple(
            getattr(optimizer, f"_optimizer_step_{when}_hooks", {}) for when in ("pre", "post")
        )
        plain = inner.__get__(optimizer)
        torch_step = wrapped.__get__(optimizer)

        def step(*args, **kwargs):
            if any(hooks) or any(own):
                return torch_step(*args, **kwargs)
            return plain(*args, **kwargs)

        optimizer.step = step
    return optimizer


def target_note(scale: dict) -> str:
    """The run summary's sentence about regression targets learnt standardised."""
    pairs = ", ".join(f"{m:.4g} ± {d:.4g}" for m, d in list(zip(scale["mean"], scale["std"], strict=True))[:3])
    more = ", ..." if len(scale["mean"]) > 3 else ""
    return (f"The targets ({pairs}{more}) are learnt standardised (mean 0, std 1); losses and metrics are "
            "in the data's own units.")


def _sample_dtype(data: Data):
    """The dtype of one input sample (token ids are integers), None when it cannot be read.
    Reading a sample may draw random numbers (augmentation): the generator is put back, so the
    run draws what train.py draws."""
    try:
        with torch.random.fork_rng(devices=[]):
            return torch.as_tensor(data.train[0][0]).dtype
    except Exception:  # noqa: BLE001 - the first-batch check has reported a bad sample already
        return None
