"""Declared training kinds: every loss, dataset kind, schedule and optimizer, once.

A kind is declared the way a block type is: its id, label, help text, its options (typed
`studio.blocks.params` values with defaults, bounds and beginner-friendly messages) and what it
needs. The settings, their validation, the settings form, the trainer, the check before Train
and the training-script export read these declarations; adding a loss or a dataset kind is one
declaration here plus, at most, one runtime function (named by the declaration, resolved lazily,
so this module imports neither Qt nor torch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.blocks.params import Bool, Choice, Float, Int, Ints, Param, Text
from studio.pyast import Code
from studio.training import parquet_data, readers, text_data
from studio.training.options import Char, Column, DataPath, Number, option_problems
from studio.training.signatures import (
    DataError,
    DataSignature,
    csv_signature,
    fixed_signature,
    folder_signature,
    image_size,
)

__all__ = [
    "DATASETS", "LOSSES", "OPTIMIZERS", "SCHEDULES", "DataError", "DataSignature", "DatasetKind",
    "LOSS_TARGETS", "LossKind", "LossTarget", "OptimizerKind", "ScheduleKind", "get_dataset",
    "get_loss", "get_optimizer", "get_schedule", "option_problems",
]


# -- the declarations -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    help: str
    options: dict[str, Param] = field(default_factory=dict)
    #: the options the settings form shows (None: all)
    shown: tuple[str, ...] | None = None
    #: extra checks across options: values -> sentences
    check: Callable[[Mapping[str, Any]], list[str]] | None = None

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.options.items()}

    def form_options(self) -> tuple[str, ...]:
        return tuple(self.options) if self.shown is None else self.shown

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """What is wrong with `values` (a settings section) for this kind; empty when usable."""
        out = option_problems(self.options, values)
        if not out and self.check is not None:
            out += self.check({**self.defaults(), **values})
        return out


@dataclass(frozen=True)
class LossTarget:
    """What a loss compares the model's output with: one declaration per kind of target, read by
    the trainer, the check before Train, the plots, the data readers and train.py."""

    id: str
    #: "classification" | "regression": what the data must hold
    task: str
    #: the second metric shown next to the loss, and its label in the plots
    metric: str
    metric_label: str
    #: the runtime function giving each sample's metric (`studio.training.runtime.metrics`)
    metric_function: str
    #: class labels become float targets (0/1 columns, one-hot rows) before the loss sees them
    float_targets: bool = False
    #: the output the first-batch check expects: "classes" (one score per class), "values"
    #: (the target's shape), "labels" (one yes/no score per label), "tokens" (N x T x V scores)
    output: str = "classes"
    #: the targets are learnt standardised (mean 0, std 1 over the training set) where the data
    #: allows (its "standardize_target" option); losses and metrics stay in the data's units
    #: (`runtime.targets`)
    standardized: bool = False
    #: the targets are a text window's next tokens: the data must be text windows, and text
    #: windows need this target (the checks before Train and on the first batch)
    windows: bool = False
    #: the targets are class indices: the model needs one score per class, and many distinct
    #: whole numbers look like a regression target instead
    class_indices: bool = False
    #: numeric class labels are read as one regression value each
    numbers: bool = False
    #: what one output stands for in the checks' messages ("value", "label")
    unit: str = "value"
    #: the first-batch check's hint when the output's shape differs from class-label targets'
    class_label_hint: str = ""


LOSS_TARGETS: dict[str, LossTarget] = {t.id: t for t in (
    #: one integer class index per sample
    LossTarget("class", "classification", "accuracy", "Accuracy", "class_hits", class_indices=True),
    #: a regression target vector
    LossTarget("float", "regression", "mae", "Mean absolute error", "absolute_errors", output="values",
               standardized=True, numbers=True),
    #: one 0/1 output per label; class labels become one-hot float targets
    LossTarget("multilabel", "classification", "accuracy", "Accuracy", "label_hits", float_targets=True,
               output="labels", unit="label",
               class_label_hint="{label} needs one output per target value; for class labels use cross-entropy."),
    #: the next token at every position of a text window (N x T x V scores)
    LossTarget("tokens", "classification", "accuracy", "Accuracy", "token_hits", output="tokens",
               windows=True),
)}


@dataclass(frozen=True)
class LossKind(Kind):
    torch_name: str = ""
    #: the id of its `LossTarget` (`LOSS_TARGETS`)
    target: str = "class"
    #: the model must output one score (logit) per class, e.g. cross-entropy
    needs_logits_per_class: bool = False
    #: torch keyword argument -> option key
    arguments: dict[str, str] = field(default_factory=dict)
    #: keyword arguments left out while at their default (the script reads like a tutorial)
    omit_at_default: tuple[str, ...] = ()
    #: the epochs also report train_/val_perplexity, exp of the mean token loss
    perplexity: bool = False
    #: what the loss applies to the model's output itself ("softmax", "sigmoid"): a block that
    #: does the same just before the Output (`BlockType.squashes`) is applied twice
    applies: str = ""

    @property
    def targets(self) -> LossTarget:
        return LOSS_TARGETS[self.target]

    @property
    def task(self) -> str:
        return self.targets.task

    @property
    def metric(self) -> str:
        """The second metric shown next to the loss."""
        return self.targets.metric

    @property
    def metric_function(self) -> str:
        """The runtime function giving each sample's metric (`studio.training.runtime`)."""
        return self.targets.metric_function

    @property
    def float_targets(self) -> bool:
        return self.targets.float_targets

    @property
    def standardized_targets(self) -> bool:
        return self.targets.standardized

    def torch_arguments(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for arg, key in self.arguments.items():
            param = self.options[key]
            value = values.get(key, param.default)
            if arg in self.omit_at_default and value == param.default:
                continue
            out[arg] = float(value) if param.kind == "float" else value
        return out


@dataclass(frozen=True)
class OptimizerKind(Kind):
    torch_name: str = ""
    #: torch keyword argument -> option key, or a tuple of keys for a tuple argument (betas)
    arguments: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    #: the device types torch has a fused kernel of it for
    fused: tuple[str, ...] = ()
    #: tensors the optimizer keeps per trainable parameter, each of its size (Adam: 2 moments)
    state_tensors: int = 0
    #: an option that adds one more such tensor (a momentum buffer) when it is not 0
    momentum_option: str | None = None

    def states_per_parameter(self, values: Mapping[str, Any]) -> int:
        """How many parameter-sized tensors this optimizer keeps with these settings."""
        n = self.state_tensors
        if self.momentum_option is not None:
            m = values.get(self.momentum_option, self.options[self.momentum_option].default)
            n += 1 if m else 0
        return n

    def torch_arguments(self, values: Mapping[str, Any]) -> dict[str, Any]:
        def value(key: str):
            param = self.options[key]
            v = values.get(key, param.default)
            return float(v) if param.kind == "float" else bool(v) if param.kind == "bool" else v

        return {
            arg: tuple(value(k) for k in key) if isinstance(key, tuple) else value(key)
            for arg, key in self.arguments.items()
        }


@dataclass(frozen=True)
class ScheduleKind(Kind):
    #: the runtime function giving the rate of one step (`studio.training.runtime`)
    rate: str = "constant_rate"
    #: the linear warm-up applies (one-cycle has its own)
    warmup: bool = True
    #: scaled down at epoch ends when the monitored metric stops improving
    uses_monitor: bool = False


#: no dataset but a CSV file's may be a streamed table (`runtime.data.TableRows`): train.py of any
#: other kind holds none of its branches
NOT_STREAMED = (("hasattr(data, 'part')", False), ("hasattr(data, 'changed')", False))


@dataclass(frozen=True)
class DatasetKind(Kind):
    #: "generated" | "file" | "folder" | "download": how the data comes
    family: str = "generated"
    #: read file by file as batches need them (not held in memory): "auto" loader workers
    #: decode them in other processes (`settings.auto_workers`)
    lazy: bool = False
    #: the function in `studio.training.datasets` that loads it for Studio (messages, info)
    loader: str = ""
    #: the runtime function that reads it (`studio.training.runtime`, copied into train.py)
    reader: str = ""
    #: what train.py may take as known of the dataset its reader gives (`interop.script_trim`):
    #: (a runtime test as written, its value), e.g. an in-memory set is batched without a DataLoader;
    #: or a function (the reader's spec, the run's plan) -> those pairs (`facts_for`)
    data_facts: tuple[tuple[str, Any], ...] | Callable[[dict, dict], tuple] = NOT_STREAMED
    #: train.py under torchrun: the first process reads it before the others start (it downloads,
    #: or writes a cache the others then find); False: read as it is, all at once
    read_first: bool = True
    #: what train.py may take as known of the spec's options: (a runtime expression as written, the
    #: option whose value it is), e.g. a char tokenizer's train.py holds no byte tokenizer code
    spec_facts: tuple[tuple[str, str], ...] = ()
    #: (kind, options with defaults, loss target, base dir) -> the plain spec `reader` takes
    reader_spec: Callable[..., dict] | None = None
    #: the targets it can give: "class" labels (also usable as numbers) and/or "float" values
    targets: tuple[str, ...] = ("class",)
    #: (options with defaults filled, base dir) -> DataSignature, never loading the data
    signature: Callable[..., DataSignature] | None = None
    #: text: the runtime function train.py's --generate runs (`runtime.text.sample_text`)
    generate: str = ""
    #: (options with defaults, base dir) -> the options a run keeps to read the data the same
    #: way later (a text's vocabulary: Try it and train.py then use the ids it trained with)
    pin: Callable[..., dict] | None = None
    #: (options with defaults, base dir) -> the values the data itself gives options left empty
    #: (an image folder's size: the images' own); raises DataError when it cannot be read
    own: Callable[..., dict] | None = None
    #: generated sets: the functions of `studio.training.datasets` that make it, helpers first
    generator: tuple[str, ...] = ()
    #: generated sets: the class names, or a pattern of the class number i ("arm {i}")
    class_names: tuple[str, ...] | str = ()
    #: generated sets: memory one sample needs while it is made (bytes, a generous estimate)
    bytes_per_sample: int = 0
    #: downloaded sets: the torchvision.datasets class, its per-channel (mean, std), and whether
    #: the old "augment" checkbox flipped the images (not for digits; `transforms.old_checkbox`)
    torchvision: str = ""
    stats: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())
    flip: bool = False

    def names_of_classes(self, count: int) -> list[str]:
        if isinstance(self.class_names, str):
            return [self.class_names.format(i=i) for i in range(count)]
        return list(self.class_names)

    def values(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The options with the declared defaults filled in (and the kind's id)."""
        return {**self.defaults(), **options, "kind": self.id}

    def describe(self, options: Mapping[str, Any], base_dir=None) -> DataSignature:
        """What the data looks like, read cheaply and cached; raises DataError (one line)."""
        problems = self.problems(options)
        if problems:
            raise DataError(problems[0])
        return self.signature(self.values(options), base_dir)

    def pinned(self, options: Mapping[str, Any], base_dir=None) -> dict:
        """`options` with what a run keeps (`pin`); unchanged when the kind pins nothing or the
        data cannot be read yet (the run itself then says why)."""
        if self.pin is None or self.problems(options):
            return dict(options)
        try:
            return {**options, **self.pin(self.values(options), base_dir)}
        except DataError:
            return dict(options)

    def own_values(self, options: Mapping[str, Any], base_dir=None) -> dict:
        """The values the data gives the options left empty (`own`); {} when it cannot be read yet."""
        if self.own is None or self.problems(options):
            return {}
        try:
            return self.own(self.values(options), base_dir)
        except DataError:
            return {}

    def facts_for(self, spec: Mapping[str, Any], plan: Mapping[str, Any]) -> dict:
        """`data_facts` as {test: value} for the reader's `spec` in the run's `plan`."""
        return dict(self.data_facts(spec, plan) if callable(self.data_facts) else self.data_facts)

    def runtime_spec(self, options: Mapping[str, Any], target: str, base_dir=None) -> dict:
        """The plain spec the runtime reader takes, for a loss whose target is `target`."""
        return self.reader_spec(self, self.values(options), LOSS_TARGETS[target], base_dir)


def _registry(*kinds: Kind) -> dict[str, Any]:
    return {k.id: k for k in kinds}


def _lookup(registry: dict, what: str, kind_id: Any):
    kind = registry.get(kind_id) if isinstance(kind_id, str) else None
    if kind is None:
        shown = repr(kind_id) if len(repr(kind_id)) <= 40 else repr(kind_id)[:37] + "..."
        raise KeyError(f"Unknown {what} {shown}; choose one of {', '.join(registry)}.")
    return kind


# -- losses ---------------------------------------------------------------------------------------

_DELTA = Float(1.0, "Delta", "Where the loss turns from squared to linear (Huber delta, smooth L1 beta)",
               min=0.0, exclusive_min=True)

LOSSES: dict[str, LossKind] = _registry(
    LossKind("cross_entropy", "Cross-entropy", "Classification: one score per class, softmax inside.",
             {"label_smoothing": Number(0.0, "Label smoothing", min=0.0, max=1.0, exclusive_max=True),
              "class_weights": Bool(False, "Class weights", "Weigh each class by n / (k x its count): "
                                    "unbalanced classes count alike")},
             torch_name="CrossEntropyLoss", target="class", needs_logits_per_class=True,
             arguments={"label_smoothing": "label_smoothing"}, omit_at_default=("label_smoothing",),
             applies="softmax"),
    LossKind("nll", "Negative log-likelihood", "Classification on log-probabilities (after LogSoftmax).",
             torch_name="NLLLoss", target="class", needs_logits_per_class=True),
    LossKind("mse", "Mean squared error", "Regression: the mean of the squared differences.",
             torch_name="MSELoss", target="float"),
    LossKind("l1", "Mean absolute error (L1)", "Regression: the mean of the absolute differences.",
             torch_name="L1Loss", target="float"),
    LossKind("smooth_l1", "Smooth L1", "Regression: squared near the target, linear far from it.",
             {"delta": _DELTA}, torch_name="SmoothL1Loss", target="float", arguments={"beta": "delta"}),
    LossKind("huber", "Huber", "Regression: squared within delta of the target, linear beyond.",
             {"delta": _DELTA}, torch_name="HuberLoss", target="float", arguments={"delta": "delta"}),
    LossKind("bce_with_logits", "Binary cross-entropy (logits)",
             "One yes/no output per label (multi-label); class labels become one-hot targets.",
             torch_name="BCEWithLogitsLoss", target="multilabel", applies="sigmoid"),
    LossKind("next_token", "Next-token cross-entropy",
             "Text: a score for every vocabulary token at each position (N x T x V), against the next tokens.",
             {"label_smoothing": Number(0.0, "Label smoothing", min=0.0, max=1.0, exclusive_max=True)},
             torch_name="TokenCrossEntropy", target="tokens", perplexity=True,
             arguments={"label_smoothing": "label_smoothing"}, omit_at_default=("label_smoothing",),
             applies="softmax"),
)

# -- optimizers -----------------------------------------------------------------------------------


def _lr(default: float) -> Float:
    return Float(default, "Learning rate", "How far each step moves the weights.", min=0.0, exclusive_min=True)


def _decay(default: float = 0.0) -> Float:
    return Float(default, "Weight decay", "Pulls the weights towards 0 (L2 regularisation).", min=0.0)


def _eps(default: float) -> Float:
    return Float(default, "Epsilon", "Added to the denominator for numerical stability.", min=0.0, exclusive_min=True)


def _unit(default: float, label: str, doc: str = "") -> Number:
    return Number(default, label, doc, min=0.0, max=1.0, exclusive_max=True)


_BETAS = {"beta1": _unit(0.9, "Beta 1", "Smoothing of the gradient's running mean."),
          "beta2": _unit(0.999, "Beta 2", "Smoothing of the squared gradient's running mean.")}
_ADAM_ARGS = {"betas": ("beta1", "beta2"), "eps": "eps", "weight_decay": "weight_decay"}


def _nesterov_check(v: Mapping[str, Any]) -> list[str]:
    if v.get("nesterov") is True and v.get("momentum") == 0:
        return ["Nesterov momentum needs a momentum greater than 0."]
    return []


OPTIMIZERS: dict[str, OptimizerKind] = _registry(
    OptimizerKind("sgd", "SGD", "Stochastic gradient descent, with momentum.",
                  {"lr": _lr(0.01), "weight_decay": _decay(), "momentum": _unit(0.9, "Momentum"),
                   "nesterov": Bool(False, "Nesterov", "Nesterov momentum")},
                  check=_nesterov_check, torch_name="SGD", fused=("cpu", "cuda"), momentum_option="momentum",
                  arguments={"momentum": "momentum", "nesterov": "nesterov", "weight_decay": "weight_decay"}),
    OptimizerKind("adam", "Adam", "Adaptive moments: a good default.",
                  {"lr": _lr(0.001), "weight_decay": _decay(), **_BETAS, "eps": _eps(1e-8)},
                  shown=("lr", "weight_decay", "beta1", "beta2"), torch_name="Adam", fused=("cpu", "cuda"),
                  arguments=_ADAM_ARGS, state_tensors=2),
    OptimizerKind("adamw", "AdamW", "Adam with decoupled weight decay.",
                  {"lr": _lr(0.001), "weight_decay": _decay(0.01), **_BETAS, "eps": _eps(1e-8)},
                  shown=("lr", "weight_decay", "beta1", "beta2"), torch_name="AdamW", fused=("cpu", "cuda"),
                  arguments=_ADAM_ARGS, state_tensors=2),
    OptimizerKind("rmsprop", "RMSprop", "Divides by a running mean of squared gradients.",
                  {"lr": _lr(0.01), "weight_decay": _decay(), "momentum": _unit(0.0, "Momentum"),
                   "alpha": Float(0.99, "Alpha", "Smoothing constant", min=0.0, max=1.0), "eps": _eps(1e-8)},
                  shown=("lr", "weight_decay", "momentum"), torch_name="RMSprop", state_tensors=1,
                  momentum_option="momentum",
                  arguments={"alpha": "alpha", "eps": "eps", "momentum": "momentum", "weight_decay": "weight_decay"}),
    OptimizerKind("adagrad", "Adagrad", "Per-weight rates that shrink with the gradients seen.",
                  {"lr": _lr(0.01), "weight_decay": _decay(), "eps": _eps(1e-10)},
                  shown=("lr", "weight_decay"), torch_name="Adagrad", fused=("cpu",), state_tensors=1,
                  arguments={"eps": "eps", "weight_decay": "weight_decay"}),
)

# -- schedules ------------------------------------------------------------------------------------

WARMUP = Float(0.0, "Warm-up epochs", "Linear warm-up from 0 to the learning rate.", min=0.0)
_MIN_LR = Float(0.0, "Minimum LR", "The rate never goes below this.", min=0.0)


SCHEDULES: dict[str, ScheduleKind] = _registry(
    ScheduleKind("none", "Constant", "The same rate all along (after the warm-up).",
                 {"warmup_epochs": WARMUP}, rate="constant_rate"),
    ScheduleKind("step", "Step decay", "Multiply the rate by gamma every few epochs.",
                 {"warmup_epochs": WARMUP, "step_size": Int(10, "Step size (epochs)", min=1, max=10**6),
                  "gamma": Float(0.1, "Decay factor", min=0.0, max=1.0, exclusive_min=True)},
                 rate="step_rate"),
    ScheduleKind("cosine", "Cosine", "Down to the minimum along half a cosine.",
                 {"warmup_epochs": WARMUP, "min_lr": _MIN_LR}, rate="cosine_rate"),
    ScheduleKind("one_cycle", "One cycle", "Up to the rate, then far down (OneCycleLR).",
                 {"pct_start": Number(0.3, "Rising share", "The share of the steps in which the rate rises",
                                      min=0.0, max=1.0, exclusive_min=True, exclusive_max=True)},
                 rate="one_cycle_rate", warmup=False),
    ScheduleKind("reduce_on_plateau", "Reduce on plateau",
                 "Scale the rate down when the monitored metric stops improving.",
                 {"warmup_epochs": WARMUP,
                  "factor": Number(0.1, "Plateau factor", min=0.0, max=1.0, exclusive_min=True, exclusive_max=True),
                  "patience": Int(5, "Plateau patience", min=0, max=10**6), "min_lr": _MIN_LR},
                 rate="plateau_rate", uses_monitor=True),
)

# -- datasets -------------------------------------------------------------------------------------

_POINTS_MAX, _IMAGES_MAX = 5_000_000, 50_000


def _n(default: int, most: int) -> Int:
    return Int(default, "Samples", "How many samples to generate.", min=2, max=most)


def _noise(default: float) -> Float:
    return Float(default, "Noise", "Standard deviation of the noise added.", min=0.0, max=100.0)


_SEED = Int(0, "Data seed", "The seed the samples are drawn with.", min=0, max=2**32 - 1)
_CLASSES = {"classes": Int(2, "Classes", min=2, max=1000)}
_TABLES = "CSV files (*.csv *.tsv *.txt);;All files (*)"
_CSV_PATH = DataPath("", "CSV file", "The table to read: one row per sample", filters=_TABLES)
_PARQUET_PATH = DataPath("", "Parquet file", filters="Parquet files (*.parquet *.pq);;All files (*)")
_FOLDER_PATH = DataPath("", "Image folder", "A folder with one sub-folder of images per class", pick="folder")
_TEXT_PATH = DataPath("", "Text file", filters="Text files (*.txt *.md);;All files (*)")
_STANDARDIZE_TARGET = Bool(True, "Standardise target", "Regression: the model learns the target scaled to "
                           "mean 0 and std 1; losses and metrics stay in the data's units")
_SPLIT = Text("", "Split column", "A column saying train or val for each row (empty: a random split)", max_len=256,
              special="none: a random split")
_VOCAB = Text("", "Vocabulary", "The characters in id order, kept with a run; empty: the file's", max_len=1 << 21,
              special="the file's characters")
_TOKENIZER = Choice("char", "Tokenizer", "char: one token per character of the file; byte: the 256 UTF-8 bytes "
                    "(any text works)", options=("char", "byte"))


_IN_MEMORY = (*NOT_STREAMED, ("isinstance(data, TensorDataset)", True), ("isinstance(data, TwoViews)", False),
              ("getattr(data, 'held_out', None)", None))
#: a generated set: one TensorDataset of features and targets
GENERATED_FACTS = (*_IN_MEMORY, ("hasattr(data, 'split_tail')", False), ("hasattr(data, 'codec')", False),
                   ("getattr(data, 'batch_dtype', None)", None))


def table_facts(spec: Mapping[str, Any], plan: Mapping[str, Any]) -> tuple:
    """A table read into memory (a CSV file unless spec["reading"] says "stream" or was not
    planned; a Parquet file always): one TensorDataset, with held-out rows only where a split
    column is named, never a streamed `TableRows`; batched by slicing unless its rows are
    augmented as they are read (plan["augment_rows"])."""
    if spec.get("reading", "memory") in (None, "stream"):
        return ()
    facts = [*NOT_STREAMED, ("isinstance(train, TableRows)", False), ("isinstance(ds, TableRows)", False)]
    facts += [("isinstance(train, TensorDataset)", True), ("hasattr(data, 'split_tail')", False),
              ("hasattr(data, 'codec')", False), ("getattr(data, 'batch_dtype', None)", None)]
    if not plan.get("augment_rows"):
        facts += [("isinstance(data, TensorDataset)", True), ("isinstance(data, TwoViews)", False)]
    return tuple(facts if spec.get("split") else [*facts, ("getattr(data, 'held_out', None)", None)])


def folder_facts(spec: Mapping[str, Any], plan: Mapping[str, Any]) -> tuple:
    """An image folder without augmentation (spec["augment"]): decoded tensors or the files,
    never two views of them; train.py then holds no augmentation code."""
    if spec.get("augment"):
        return NOT_STREAMED
    return (*NOT_STREAMED, ("spec.get('augment')", None), ("isinstance(data, TwoViews)", False))


#: a CSV file's options: train.py holds only its path (--data moves it), the rest written as
#: literals where they are read, and only the reading its export planned (`runtime.data.csv_reading`)
CSV_FACTS = (("spec.get('reading')", "reading"), ("spec.get('split')", "split"), ("spec['split']", "split"),
             ("spec.get('delimiter', ',')", "delimiter"), ("spec.get('header', 'auto')", "header"),
             ("spec.get('target', -1)", "target"), ("spec.get('features')", "features"),
             ("spec.get('classification', True)", "classification"))
#: whether `runtime.generated.read_generated` gives class labels as float numbers
NUMBERS_FACTS = (("spec.get('numbers')", "numbers"),)
#: a CSV with a text column: one TensorDataset of token ids and labels, with its codec
TEXT_CSV_FACTS = (*_IN_MEMORY, ("hasattr(data, 'split_tail')", False), ("hasattr(data, 'codec')", True),
                  ("getattr(data, 'batch_dtype', None)", None))
#: a text file: windows over its tokens (`runtime.text.TextWindows`), split at their tail,
#: kept compact and widened to int64 a batch at a time: its `batch_dtype` is known at export,
#: written as code (``torch.long``), and known where it is passed on (`tensor_batches`'s `dtype`),
#: so train.py holds only the per-batch path of `loop.tensor_batches`
TEXT_WINDOW_FACTS = (*_IN_MEMORY, ("hasattr(data, 'split_tail')", True), ("hasattr(data, 'codec')", True),
                     ("getattr(data, 'batch_dtype', None)", Code("torch.long")), ("torch.long", Code("torch.long")))
#: the text readers' options, written as literals where they are read, so train.py's SETTINGS
#: keeps only the path (--data moves it): the tokenizer (the spec's, and the codec's made from
#: it, `runtime.tokens`), the kept vocabulary, a text file's windows (`block_size` is
#: --generate's context too); a fact whose option a spec lacks (a CSV's stride) is not taken
TOKENIZER_FACTS = (("spec['tokenizer']", "tokenizer"), ("codec['tokenizer']", "tokenizer"),
                   ("spec.get('vocab')", "vocab"), ("spec['block_size']", "block_size"),
                   ("spec['stride']", "stride"), ("settings['data']['block_size']", "block_size"))


def _generated(kind_id: str, label: str, help: str, options: dict, shape: tuple, classes, names=(),
               targets=("class", "float"), per_sample: int = 96, helpers: tuple[str, ...] = ()) -> DatasetKind:
    def signature(v: Mapping[str, Any], base_dir=None) -> DataSignature:
        if "float" in targets and "class" not in targets:
            return DataSignature(shape, "float32", None, "float", 1, f"{label} ({v['n']} points)")
        k = v.get("classes", classes)
        return DataSignature(shape, "float32", k, "class", None, f"{kind_id} ({v['n']} samples)")

    options = {**options, "seed": _SEED}
    return DatasetKind(kind_id, label, help, options, shown=tuple(k for k in options if k != "seed"),
                       family="generated", loader="load_generated", reader="read_generated", data_facts=GENERATED_FACTS,
                       spec_facts=NUMBERS_FACTS,
                       reader_spec=readers.generated_spec, targets=targets, signature=signature,
                       generator=(*(("class_labels",) if "class" in targets else ()), *helpers, kind_id),
                       class_names=names, bytes_per_sample=per_sample)


def _size_check(v: Mapping[str, Any]) -> list[str]:
    return [] if v.get("channels") in (1, 3) else [f"Channels must be 1 (grey) or 3 (colour) (got {v.get('channels')!r})."]


def _torchvision(kind_id: str, label: str, shape: tuple, source: str, stats: tuple, flip: bool = False) -> DatasetKind:
    return DatasetKind(
        kind_id, label, f"The {label} images (downloaded once into the data folder).",
        {"root": Text("", "Data folder", max_len=4096),
         "split": Choice("train", "Split", options=("train", "test")), "download": Bool(True, "Download")},
        shown=(), family="download", loader="load_torchvision", reader="read_torchvision",
        reader_spec=readers.download_spec,
        signature=fixed_signature(shape, 10, label), torchvision=source, stats=stats, flip=flip,
    )


DATASETS: dict[str, DatasetKind] = _registry(
    _generated("spirals", "Spirals", "Points on interleaved spiral arms, one arm per class.",
               {"n": _n(1000, _POINTS_MAX), "noise": _noise(0.2), **_CLASSES}, (2,), 2, "arm {i}"),
    _generated("moons", "Two moons", "Two interleaving half circles.",
               {"n": _n(1000, _POINTS_MAX), "noise": _noise(0.1)}, (2,), 2, ("upper", "lower")),
    _generated("blobs", "Blobs", "Gaussian blobs around centres on a circle.",
               {"n": _n(1000, _POINTS_MAX), "classes": Int(3, "Classes", min=2, max=1000),
                "std": Float(1.0, "Spread (std)", min=0.0, max=100.0)}, (2,), 3, "blob {i}"),
    _generated("sine", "Noisy sine", "Regression: y = sin(x) + noise.",
               {"n": _n(1000, _POINTS_MAX), "noise": _noise(0.1)}, (1,), None, targets=("float",)),
    _generated("shapes", "Shapes", "28x28 grey images of a circle, a square or a triangle.",
               {"n": _n(600, _IMAGES_MAX), "noise": _noise(0.1)}, (1, 28, 28), 3,
               ("circle", "square", "triangle"), per_sample=32_000, helpers=("draw_shapes",)),
    DatasetKind("csv", "CSV file", "A table: one row per sample, one column is the target.",
                {"path": _CSV_PATH, "target": Column(-1, "Target column"), "delimiter": Char(",", "Delimiter"),
                 "header": Choice("auto", "Header row", options=("auto", True, False)),
                 "standardize": Bool(True, "Standardise"), "standardize_target": _STANDARDIZE_TARGET,
                 "split": _SPLIT},
                shown=("path", "target", "split"), family="file", loader="load_csv", targets=("class", "float"),
                reader="read_csv_data", reader_spec=readers.csv_spec, data_facts=table_facts, spec_facts=CSV_FACTS,
                signature=csv_signature),
    DatasetKind("parquet", "Parquet file", "A table in a Parquet file (needs pyarrow): one column is the target.",
                {"path": _PARQUET_PATH, "target": Column(-1, "Target column"), "standardize": Bool(True, "Standardise"),
                 "standardize_target": _STANDARDIZE_TARGET, "split": _SPLIT},
                shown=("path", "target", "split"), family="file", loader="load_parquet", targets=("class", "float"),
                reader="read_parquet_data", reader_spec=parquet_data.parquet_spec, data_facts=table_facts,
                signature=parquet_data.parquet_signature),
    DatasetKind("image_folder", "Image folder", "One sub-folder of images per class.",
                {"path": _FOLDER_PATH, "channels": Int(3, "Channels", min=1, max=3),
                 "size": Ints((), "Image size", "Every image is resized to this (height, width) as it is read; "
                              "empty: the images' own size (the first image's)", min_len=0, max_len=2, min=1, max=4096),
                 "normalize": Bool(True, "Normalise")},
                shown=("path", "channels", "size"), check=_size_check, family="folder", lazy=True,
                loader="load_image_folder", signature=folder_signature, reader="read_image_folder",
                data_facts=folder_facts,
                own=lambda v, base_dir=None: {"size": image_size(v, base_dir)},
                reader_spec=readers.folder_spec),
    DatasetKind("text", "Text file", "A .txt file cut into windows: predict each next token.",
                {"path": _TEXT_PATH, "tokenizer": _TOKENIZER,
                 "block_size": Int(64, "Block size", "Tokens in one window (the context)", min=1, max=1 << 16),
                 "stride": Int(16, "Stride", "Tokens between the starts of two windows", min=1, max=1 << 16),
                 "vocab": _VOCAB},
                shown=("path", "tokenizer", "block_size", "stride"), pin=text_data.pin_text, family="file", loader="load_text", targets=("class",), reader="read_text_windows", generate="sample_text",
                data_facts=TEXT_WINDOW_FACTS, spec_facts=TOKENIZER_FACTS, read_first=False,
                reader_spec=text_data.text_spec, signature=text_data.text_signature),
    DatasetKind("text_csv", "CSV with text", "A table with a text column and a label: classify texts.",
                {"path": _CSV_PATH, "text": Column(0, "Text column"), "target": Column(-1, "Label column"),
                 "tokenizer": _TOKENIZER, "length": Int(128, "Length", "Tokens per text (cut or padded)",
                                                        min=1, max=1 << 16),
                 "delimiter": Char(",", "Delimiter"), "header": Choice(True, "Header row", options=("auto", True, False)),
                 "vocab": _VOCAB},
                shown=("path", "text", "target", "tokenizer", "length"), pin=text_data.pin_csv, family="file",
                loader="load_text",
                targets=("class",), reader="read_text_classes", reader_spec=text_data.text_csv_spec, spec_facts=TOKENIZER_FACTS,
                data_facts=TEXT_CSV_FACTS,
                signature=text_data.text_csv_signature),
    _torchvision("mnist", "MNIST", (1, 28, 28), "MNIST", ((0.1307,), (0.3081,))),
    _torchvision("fashion_mnist", "Fashion-MNIST", (1, 28, 28), "FashionMNIST", ((0.2860,), (0.3530,))),
    _torchvision("cifar10", "CIFAR-10", (3, 32, 32), "CIFAR10",
                 ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)), flip=True),
)


def get_loss(kind_id: Any) -> LossKind:
    """The loss declared as `kind_id`; KeyError with a sentence naming the choices."""
    return _lookup(LOSSES, "loss", kind_id)


def get_optimizer(kind_id: Any) -> OptimizerKind:
    return _lookup(OPTIMIZERS, "optimizer", kind_id)


def get_schedule(kind_id: Any) -> ScheduleKind:
    return _lookup(SCHEDULES, "learning-rate schedule", kind_id)


def get_dataset(kind_id: Any) -> DatasetKind:
    return _lookup(DATASETS, "dataset kind", kind_id)


def pin_data(training: Mapping[str, Any], base_dir=None) -> dict:
    """Training settings whose data options hold what a run keeps so that it reads its data
    alike later (a text file's vocabulary): what the window and `studio train` store."""
    out = dict(training)
    data = out.get("data")
    if isinstance(data, dict) and data.get("kind") in DATASETS:
        out["data"] = DATASETS[data["kind"]].pinned(data, base_dir)
    return out
