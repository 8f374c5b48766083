"""One way to get from a project to something the Trainer can run: data, weights, seed, model.

`studio train` and the GUI's training worker both call `prepare_run`, so a run started from the
window builds the same model from the same generated source, with the same seed, as the terminal.
torch, the compiler and the hub are imported lazily (this module is imported by the CLI table).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PrepareError(Exception):
    """The run cannot start; the message is one line for the user. `kind` says which step failed."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.kind = kind  # settings | data | weights | model


@dataclass
class PreparedRun:
    model: Any  # torch.nn.Module, built from exactly the generated source
    data: Any  # studio.training.Data
    expected_shape: tuple | None  # the single Input block's shape (without batch), else None
    code: Any  # studio.compiler.GeneratedCode the model was built from (attrs, line_blocks)

    def __iter__(self):  # model, data, expected_shape = prepare_run(...)
        return iter((self.model, self.data, self.expected_shape))


def prepare_run(
    project, settings, base_dir: str | Path | None = None, progress=None, cancel=None, with_code: bool = False,
    check: bool = True,
) -> PreparedRun:
    """Load the data, make pretrained weights local, seed, and build the model.

    Order as the CLI always did it: data first (cheapest to fail), then weights (may download,
    `progress`/`cancel` as in `studio.hub.weights`), then `seed_everything(settings.seed)` right
    before building so initial weights repeat. `with_code` also returns the GeneratedCode
    (generation is deterministic: the same text, so the same `<studio:...>` file name as the
    model's). `check`: refuse data that does not fit the model, as `studio check` and the
    Problems list call an error (trying a finished run skips it). Raises PrepareError.
    """
    from studio.training.checkpoints import seed_everything
    from studio.training.datasets import DatasetError, load_data

    problems = settings.validate()
    if problems:  # e.g. a seed torch cannot take: a message, before anything is seeded
        raise PrepareError(" ".join(problems), "settings")
    if base_dir is None:
        base_dir = Path(project.path).resolve().parent if getattr(project, "path", None) else Path.cwd()
    if check:
        fit_errors(project, settings, base_dir)
    try:
        data = load_data(settings, base_dir=base_dir)
    except DatasetError as e:
        raise PrepareError(str(e), "data") from None

    from studio.hub.repos import HubError
    from studio.hub.weights import WeightsError, prepare_graph_weights
    from studio.training.fit_check import weights_file_problems

    missing = weights_file_problems(project.graph, base_dir)
    if missing:
        raise PrepareError(missing[0].describe(project.graph), "weights")
    try:
        prepare_graph_weights(project.graph, progress=progress, cancel=cancel)
    except (WeightsError, HubError) as e:
        raise PrepareError(str(e), "weights") from None

    import studio.compiler as compiler
    from studio.compiler.fits import size_problems
    from studio.training.trainer import model_failure

    totals = compiler.analyze(project.graph).totals()  # meta tensors: nothing allocated yet
    too_big = [d for d in size_problems(totals.params, totals.size_bytes) if d.is_error]
    if too_big:
        raise PrepareError(too_big[0].message, "model")
    seed_everything(settings.seed)  # the model's initial weights repeat with the seed
    try:
        model = compiler.build_model(project.graph, name="Model")
        specs = compiler.input_specs(project.graph)
        code = compiler.generate(project.graph, "Model") if with_code else None
    except Exception as e:
        raise PrepareError(model_failure(e, "Could not build the model").message, "model") from None
    expected = specs[0][1] if len(specs) == 1 else None
    return PreparedRun(model, data, expected, code)


def fit_errors(project, settings, base_dir) -> None:
    """Raise PrepareError with every error of the check before Train (the data against the model:
    a 3-output head on 2-class data), each with its fix, so a run never trains what `studio
    check` calls an error."""
    from studio.compiler import analyze
    from studio.training.fit_check import check_training

    training = settings.to_dict()
    if not (getattr(project, "training", None) or {}).get("data"):
        training.pop("data")  # nobody chose data: the check warns only, as in the window
    try:
        analysis = analyze(project.graph)
        problems = check_training(project.graph, analysis, training, base_dir=base_dir)
    except Exception:  # noqa: BLE001 - the model's own build below says what is wrong with it
        return
    errors = [p for p in problems if p.is_error]
    if errors:
        text = " ".join(
            p.describe(project.graph) + (f" (Fix: {p.fix.text}.)" if p.fix is not None else "") for p in errors
        )
        raise PrepareError(text, "data")


def load_trained(project, settings, weights: str | Path, prepared: PreparedRun | None = None) -> PreparedRun:
    """A model as `prepare_run` builds it, with a run's trained weights loaded into it (for
    trying a run). `weights` is a state_dict file (`weights.pt`) or a checkpoint (`last.pt`);
    both load with ``weights_only=True``. `prepared` reuses a model built before. Raises
    PrepareError when the weights do not fit the model as it is now."""
    import torch

    if prepared is None:
        prepared = prepare_run(project, settings, check=False)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file
        raise PrepareError(f"Could not read the weights {Path(weights).name}: {e}", "weights") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict) and "epoch" in state:
        state = state["model"]  # a checkpoint: the model's part
    try:
        prepared.model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        detail = str(e).splitlines()
        raise PrepareError(
            "These weights do not fit the model as it is now (it was edited since the run): "
            + " ".join(line.strip() for line in detail[1:3] or detail[:1]), "weights",
        ) from None
    prepared.model.eval()
    return prepared
