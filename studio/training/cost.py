"""Will a run fit? The memory estimate for a project's training settings, and its verdict.

The estimate itself (:mod:`studio.compiler.memory`) knows graphs, not settings; this module
reads the settings (batch size, precision, the optimizer's declaration for the state it keeps)
and the device (a CUDA GPU's memory when one is there, else a size the user gives).
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.compiler.memory import DEFAULT_MARGIN, MemoryEstimate, estimate_memory
from studio.training.kinds import get_optimizer
from studio.units import fmt_bytes


def memory_for(
    graph,
    settings,
    batch: int | None = None,
    precision: str | None = None,
    analysis=None,
    code=None,
) -> MemoryEstimate:
    """The estimate for ``settings`` (a TrainingSettings); ``batch``/``precision`` override."""
    opt = settings.optimizer
    kind = get_optimizer(opt.name)
    values = {k: getattr(opt, k) for k in kind.options if hasattr(opt, k)}
    return estimate_memory(
        graph,
        batch or settings.batch_size,
        precision=precision or settings.precision,
        optimizer=kind.label,
        states=kind.states_per_parameter(values),
        analysis=analysis,
        code=code,
    )


def device_memory(device: str = "auto") -> tuple[int, str] | None:
    """``(bytes, name)`` of the GPU a run on ``device`` would use; None on the CPU (its
    memory is shared with everything else on the machine: give a size instead)."""
    import torch

    if device == "cpu" or not torch.cuda.is_available():
        return None
    index = int(device.split(":")[1]) if device.startswith("cuda:") else 0
    try:
        props = torch.cuda.get_device_properties(index)
    except Exception:  # noqa: BLE001 - a GPU index that is not there
        return None
    return props.total_memory, props.name


@dataclass(frozen=True)
class Verdict:
    fits: bool
    largest_batch: int
    memory: int
    margin: float
    where: str  # "24 GB" or "NVIDIA H100 (80 GB)"

    def text(self, estimate: MemoryEstimate) -> str:
        usable = fmt_bytes(self.memory * (1 - self.margin))
        head = (
            f"fits: {fmt_bytes(estimate.peak)} of {usable} usable"
            if self.fits
            else f"does not fit: {fmt_bytes(estimate.peak)} needed, {usable} usable"
        )
        largest = (
            f"largest batch that fits: {self.largest_batch:,}"
            if self.largest_batch
            else "not even a batch of 1 fits"
        )
        return f"Batch {estimate.batch} on {self.where} ({self.margin:.0%} kept free) {head}; {largest}."

    def short(self) -> str:
        """Beside a batch size: 'fits in 24 GB up to batch 16,384', 'does not fit in 2 GB;
        batch 256 does', 'does not fit in 1 KB at any batch size'."""
        if self.fits:
            return f"fits in {self.where} up to batch {self.largest_batch:,}"
        if self.largest_batch:
            return f"does not fit in {self.where}; batch {self.largest_batch:,} does"
        return f"does not fit in {self.where} at any batch size"


def verdict(
    estimate: MemoryEstimate, memory: int, where: str, margin: float = DEFAULT_MARGIN
) -> Verdict:
    usable = memory * (1 - margin)
    return Verdict(
        estimate.peak <= usable, estimate.largest_batch(memory, margin), memory, margin, where
    )


def fit_note(model, input_shape, input_dtype, settings, device) -> str | None:
    """The warning before the first step when one step at the batch size will not fit the GPU
    (None when it fits, on the CPU, or when the estimate cannot be made)."""
    import torch

    from studio.compiler.memory import model_step_bytes

    if getattr(device, "type", "cpu") != "cuda" or input_shape is None:
        return None
    found = device_memory(str(device))
    if found is None:
        return None
    kind = get_optimizer(settings.optimizer.name)
    values = {
        k: getattr(settings.optimizer, k) for k in kind.options if hasattr(settings.optimizer, k)
    }
    dtype = input_dtype if isinstance(input_dtype, torch.dtype) else torch.float32
    try:
        need = model_step_bytes(
            model, [((settings.batch_size, *input_shape), dtype)], kind.states_per_parameter(values)
        )
    except Exception:  # noqa: BLE001 - the estimate is advice; the run itself will tell
        return None
    usable = found[0] * (1 - DEFAULT_MARGIN)
    if need <= usable:
        return None
    per = need / settings.batch_size
    hint = max(int(usable // per), 0) if per else 0
    return (
        f"One step at batch {settings.batch_size} needs about {fmt_bytes(need)}, more than the "
        f"{fmt_bytes(usable)} usable on {found[1]}: it will likely run out of memory. "
        f"Try a batch of {hint} or less, or mixed precision."
        if hint
        else f"One step needs about {fmt_bytes(need)}, more than the {fmt_bytes(usable)} usable on {found[1]}."
    )
