"""Export format ``script``: one standalone ``train.py`` that trains the project as Studio does.

The script holds the model class exactly as :func:`studio.compiler.generate` writes it (its
imports are merged with the script's; the class text is not touched), the data set-up, the
optimizer, loss, schedule and loop of the project's training settings, written the way the
PyTorch tutorials read. It needs only torch and torchvision.

It mirrors the trainer (:mod:`studio.training.trainer`) step for step, so that on CPU the same
seed gives the same per-epoch metrics as ``studio train``:

* data: the generated sets are the very functions of :mod:`studio.training.datasets` (their
  source is copied); the split is the same seeded permutation; CSV, image folders and
  torchvision sets are read with the same rules;
* seeding: ``torch.manual_seed(seed)``, build the model, build the optimizer, then seed again
  (the trainer seeds again once set up, so training's randomness does not depend on how many
  random numbers the model's initialisation drew);
* batches: one permutation per epoch from a generator seeded with the seed; in-memory tensors
  are sliced, other datasets go through a DataLoader drawing the same permutation;
* optimizer: the implementation :func:`studio.training.optim.implementation_options` gives
  (fused where the device has it, else foreach); loss from :func:`~studio.training.optim.loss_spec`;
* schedule: Studio's per-step formula for the chosen schedule only (tested against
  :class:`~studio.training.optim.LRSchedule`);
* metrics: per-step losses weighted by batch size, validation sums on the device, exactly as
  the trainer adds them.

Under ``torchrun`` it trains with DistributedDataParallel and a DistributedSampler; that mode
is not meant to match a single-process run number for number.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import textwrap
from pathlib import Path

from studio.graph.project import Project
from studio.interop.exporters import (
    ExportError,
    ExportFormat,
    ExportResult,
    _atomic,
    _code,
    register_format,
)
from studio.training.kinds import get_dataset

#: names the script binds at module level (besides the model class and its imports)
SCRIPT_NAMES = frozenset({
    "argparse", "csv", "math", "os", "sys", "time", "Path", "torch", "dist", "nn", "datasets",
    "transforms", "DataLoader", "DistributedSampler", "BatchSampler", "Sampler", "Subset",
    "EPOCHS", "BATCH_SIZE", "SEED", "DEVICE", "OUT", "load_data", "split", "read_csv", "is_number",
    "image_tensors", "float_targets", "standardize", "per_sample_metric", "batches", "EpochBatches",
    "evaluate", "learning_rate", "set_learning_rate", "global_sums", "write_metrics",
    "choose_device", "parse_args", "main",
})
_LAZY_KINDS = ("image_folder",)


def export_script(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    """Write ``train.py``: model, data, optimizer, loss, schedule and loop in one file."""
    source, notes = script_source(project)
    with _atomic(path) as tmp:
        tmp.write_text(source, encoding="utf-8")
    return ExportResult(Path(path), "script", notes)


def script_source(project: Project) -> tuple[str, list[str]]:
    """The text of the training script and notes for the user. Raises :class:`ExportError`."""
    from studio.training.settings import TrainingSettings

    settings = TrainingSettings.from_dict(project.training)
    problems = settings.validate()
    if problems:
        raise ExportError("the training settings have problems: " + " ".join(problems))
    code = _code(project)
    if code.class_name in SCRIPT_NAMES:  # e.g. a project called "Data loader"
        from studio.compiler import CompileError, generate

        try:
            code = generate(project.graph, f"{project.name} model")
        except CompileError as e:  # pragma: no cover - _code compiled it already
            raise ExportError(f"the model has problems: {e}") from None
    model_imports, model_body = _split_module(code.source)
    base_dir = project.path.parent if project.path else Path.cwd()
    w = _Writer(settings, code.class_name, project.name, base_dir)
    return w.write(model_imports, model_body), w.notes


def _split_module(source: str) -> tuple[list[str], str]:
    """(import lines, the text from the first statement after them) of a generated module."""
    tree = ast.parse(source)
    lines = source.splitlines()
    imports: list[str] = []
    body_start = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if body_start is not None:
                raise ExportError("the generated module has an import after its class")
            imports.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and body_start is None and not imports:
            continue  # the module docstring
        elif body_start is None:
            decorators = getattr(node, "decorator_list", [])
            body_start = min([node.lineno] + [d.lineno for d in decorators])
    if body_start is None:  # pragma: no cover - generate always writes a class
        raise ExportError("the generated module has no class")
    return imports, "\n".join(lines[body_start - 1 :]).rstrip() + "\n"


def _sorted_imports(lines: list[str]) -> str:
    """Import lines in isort's order (what ruff expects): the standard library, then the rest;
    in each, ``import x`` lines, then ``from x import y`` lines, by module name."""
    import sys

    def module(line: str) -> str:
        node = ast.parse(line).body[0]
        return node.module if isinstance(node, ast.ImportFrom) else node.names[0].name

    sections: list[list[str]] = [[], []]
    for line in lines:
        top = (module(line) or "").split(".")[0]
        sections[0 if top in sys.stdlib_module_names else 1].append(line)
    blocks = []
    for section in sections:
        key = [(line.lstrip().startswith("from "), module(line).lower(), line) for line in section]
        if key:
            blocks.append("\n".join(line for *_, line in sorted(key)))
    return "\n\n".join(blocks) + "\n"


def _from_import(module: str, names) -> str:
    """``from module import a, b``, wrapped one name a line (isort's style) when too long."""
    names = sorted(names)
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 88:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def _bound_names(import_line: str) -> set[str]:
    node = ast.parse(import_line).body[0]
    names = set()
    for alias in node.names:
        names.add(alias.asname or alias.name.split(".")[0])
    return names


def _comment_text(text: str) -> str:
    return " ".join(str(text).split())


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def _lit(value) -> str:
    """A Python literal, strings in double quotes (JSON's escapes are Python's too)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_lit(v) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    return repr(value)


def _call_args(kwargs: dict) -> str:
    return ", ".join(f"{k}={_lit(v)}" for k, v in kwargs.items())


def _call(func: str, args: str, indent: int) -> str:
    """``func(args)`` on one line, or with the arguments on their own line when long."""
    pad = "    " * indent
    if len(pad) + len(func) + len(args) + 2 <= 100:
        return f"{pad}{func}({args})"
    return f"{pad}{func}(\n{pad}    {args}\n{pad})"


class _Writer:
    """Builds the script for one project's settings: only the branches it needs."""

    def __init__(self, settings, class_name: str, project_name: str, base_dir: Path):
        self.s = settings
        self.cls = class_name
        self.project_name = project_name
        self.base_dir = base_dir
        self.notes: list[str] = []
        self.imports = {"argparse", "csv", "math", "os", "sys", "time", "pathlib", "torch", "dist", "nn"}
        self.data_imports: set[str] = set()  # torch.utils.data names
        self.functions: list[str] = []  # data helper sources, in order, no duplicates
        self.torchvision: set[str] = set()  # names imported from torchvision
        self.downloads = False

    # ------------------------------------------------------------------ the whole file
    def write(self, model_imports: list[str], model_body: str) -> str:
        s = self.s
        data_fn = self._load_data()
        lazy_train, lazy_val = self.lazy_train, self.lazy_val
        if lazy_train or lazy_val:
            self.data_imports |= {"DataLoader"}
        self.data_imports.add("DistributedSampler")
        if lazy_train:
            self.data_imports |= {"BatchSampler", "Sampler"}
        if lazy_val:
            self.data_imports.add("Subset")

        script_imports = [
            "import argparse", "import csv", "import math", "import os", "import sys", "import time",
            "from pathlib import Path", "import torch", "import torch.distributed as dist",
            "from torch import nn",
            _from_import("torch.utils.data", self.data_imports),
        ]
        if self.torchvision:
            script_imports.append(_from_import("torchvision", self.torchvision))
        taken = {ln.strip() for ln in script_imports}
        extra = []
        for line in model_imports:
            if line.strip() in taken:
                continue
            clash = _bound_names(line) & (SCRIPT_NAMES | {self.cls})
            if clash:
                raise ExportError(
                    f"the model's import {line.strip()!r} binds {', '.join(sorted(clash))}, a name the "
                    "training script uses"
                )
            extra.append(line)
            taken.add(line.strip())

        out_name = re.sub(r"[^\w.-]+", "_", str(self.project_name)).strip("._") or "project"
        parts = [
            self._header(),
            _sorted_imports(script_imports + extra),
            _dedent(f"""
                # ---------------------------------------------------------------- settings
                # The project's training settings; --epochs, --batch-size, --seed, --device and
                # --out override the first five.
                EPOCHS = {_lit(s.epochs)}
                BATCH_SIZE = {s.batch_size!r}  # per process under torchrun
                SEED = {_lit(s.seed)}
                DEVICE = {_lit(s.device)}  # auto: cuda, else mps, else cpu
                OUT = {_lit(str(Path("runs") / out_name))}
            """),
            "# ---------------------------------------------------------------- the model\n"
            "# The class Studio generated for the project (Studio trains exactly this code).\n\n\n"
            + model_body,
            "# ---------------------------------------------------------------- the data\n\n\n"
            + "\n\n".join(self.functions + [data_fn]),
            "# ---------------------------------------------------------------- training helpers\n\n\n"
            + "\n\n".join(self._helpers()),
            self._main(),
            'if __name__ == "__main__":\n    main()\n',
        ]
        head, imports, *rest = (p.rstrip("\n") + "\n" for p in parts)
        return head + "\n" + imports + "\n" + "\n\n".join(rest)

    def _header(self) -> str:
        from studio import __version__

        name = _comment_text(self.project_name)
        return _dedent(f'''
            # Training script for the Studio project '{name}', written by Studio {__version__}.
            # It needs only PyTorch and torchvision.
            #
            #   python train.py                  train as Studio does; on CPU the same seed gives the
            #                                    same data and the same per-epoch losses as
            #                                    `studio train`
            #   python train.py --epochs 5 --device cpu --out runs/try
            #   torchrun --nproc_per_node 4 train.py
            #                                    DistributedDataParallel: one process per GPU (nccl),
            #                                    or several CPU processes (gloo)
            #
            # Batch size under torchrun: BATCH_SIZE (--batch-size) is the batch of ONE process.
            # Each process trains on its own share of the training set (a DistributedSampler) in
            # batches of BATCH_SIZE, and backward() averages the gradients over the processes, so
            # one optimizer step sees nproc_per_node x BATCH_SIZE samples and an epoch has about
            # 1/nproc_per_node as many steps. Scale the learning rate (or the batch size) when you
            # change the number of processes. Each process validates its share of the validation
            # set and the metrics are summed over all of them. Only the first process (rank 0)
            # prints and writes metrics.csv and weights.pt (into --out).
            """Train {self.cls} with the training settings of its Studio project."""
        ''')

    # ------------------------------------------------------------------ data
    def _add(self, source: str) -> None:
        source = _dedent(source)
        if source not in self.functions:
            self.functions.append(source)

    def _dataset(self, spec: dict, var: str, train_split: bool) -> tuple[list[str], bool, str | None]:
        """Lines setting ``var`` for one dataset spec: ``(lines, lazy, plain view var or None)``.

        In-memory data is an ``(x, y)`` tuple of tensors; lazy data a Dataset.
        """
        from studio.training import datasets as ds

        s = self.s
        kind = spec.get("kind")
        if get_dataset(kind).family == "generated":
            if kind == "sine" and s.task == "classification":
                raise ExportError("the noisy sine set is for regression; choose MSE, L1 or Huber loss")
            for fn in ds.generator_functions(kind):
                self._add(inspect.getsource(fn))
            try:
                args = ds.generated_arguments(spec)
            except (TypeError, ValueError) as e:
                raise ExportError(f"the {kind} dataset settings are invalid ({e})") from None
            lines = [f"{var} = {kind}({_call_args(args)})"]
            if s.task == "regression" and kind != "sine":
                lines.append(f"{var} = ({var}[0], {var}[1].float().unsqueeze(1))  # regression: the label as a number")
            return lines, False, None
        if kind == "csv":
            self._add_csv()
            path = self._path(spec.get("path"), "CSV file")
            args = {
                "target": spec.get("target", -1), "features": spec.get("features") or None,
                "header": spec.get("header", "auto"), "delimiter": spec.get("delimiter", ","),
                "classification": s.task == "classification",
            }
            return [f"{var} = read_csv({_lit(path)}, {_call_args(args)})"], False, None
        if kind == "image_folder":
            return self._image_folder(spec, var)
        if kind in ds.TORCHVISION:
            return self._torchvision(spec, var)
        raise ExportError(f"unknown dataset kind {kind!r}")

    def _path(self, p, what: str) -> str:
        if not p:
            raise ExportError(f"choose a {what} (the data settings have no 'path')")
        path = Path(p).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)

    def _add_csv(self) -> None:
        self._add('''
            def is_number(text):
                try:
                    float(text)
                    return True
                except ValueError:
                    return False
        ''')
        self._add('''
            def read_csv(path, target=-1, features=None, header="auto", delimiter=",", classification=True):
                """(x, y) from a CSV file, read as Studio reads it: blank rows are skipped, a first row
                without numbers is the header, columns are names or indices, class labels become
                0, 1, ... in sorted order (numbers by value)."""
                with open(path, newline="", encoding="utf-8-sig") as f:
                    rows = [row for row in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in row)]
                if header == "auto":
                    header = not any(is_number(c) for c in rows[0])
                width = len(rows[0])
                names = [c.strip() for c in rows[0]] if header else [f"column {j + 1}" for j in range(width)]
                data = rows[1:] if header else rows

                def column(c):
                    return names.index(c) if isinstance(c, str) else c % width

                t = column(target)
                cols = [column(c) for c in features] if features else [j for j in range(width) if j != t]
                x = torch.tensor([[float(row[j].strip()) for j in cols] for row in data])
                targets = [row[t].strip() for row in data]
                if not classification:
                    return x, torch.tensor([float(v) for v in targets]).unsqueeze(1)
                labels = sorted(set(targets), key=lambda v: (0, float(v), v) if is_number(v) else (1, 0.0, v))
                index = {v: i for i, v in enumerate(labels)}
                return x, torch.tensor([index[v] for v in targets])
        ''')

    def _image_folder(self, spec: dict, var: str):
        self.torchvision |= {"datasets", "transforms"}
        root = self._path(spec.get("path"), "image folder")
        size = spec.get("size", [28, 28])
        size = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(v) for v in size)
        channels = int(spec.get("channels", 3))
        head = (
            [f"transforms.Grayscale({channels})"] if channels == 1
            else ['transforms.Lambda(lambda image: image.convert("RGB"))']
        )
        head.append(f"transforms.Resize({size!r})")
        tail = ["transforms.ToTensor()"]
        if spec.get("normalize", True):
            tail.append(f"transforms.Normalize({[0.5] * channels!r}, {[0.5] * channels!r})")
        aug = (
            ["transforms.RandomHorizontalFlip()", "transforms.RandomAffine(10, translate=(0.1, 0.1))"]
            if spec.get("augment") else []
        )

        def compose(items):
            inner = "".join(f"        {t},\n" for t in items)
            return "transforms.Compose([\n" + inner + "    ])"

        lines = ["# one sub-folder per class"]
        if aug:  # the training view is augmented, the validation view plain
            lines.append(f"{var}_plain = datasets.ImageFolder({_lit(root)}, transform={compose(head + tail)})")
            lines.append(f"{var} = datasets.ImageFolder({_lit(root)}, transform={compose(head + aug + tail)})")
            return lines, True, f"{var}_plain"
        lines.append(f"{var} = datasets.ImageFolder({_lit(root)}, transform={compose(head + tail)})")
        return lines, True, None

    def _torchvision(self, spec: dict, var: str):
        from studio.training import datasets as ds

        self.torchvision.add("datasets")
        self.downloads = True
        kind = spec["kind"]
        cls = ds.TORCHVISION[kind]
        mean, std = ds._STATS[kind]
        root = spec.get("root")
        if root:
            root_path = Path(root).expanduser()
            root_text = _lit(str(root_path if root_path.is_absolute() else self.base_dir / root_path))
        else:
            default = ds.default_data_dir()
            try:
                root_text = f"os.path.expanduser({_lit('~/' + default.relative_to(Path.home()).as_posix())})"
            except ValueError:
                root_text = _lit(str(default))
        train = spec.get("split", "train") != "test"
        download = spec.get("download") is not False
        if spec.get("augment"):
            self.torchvision.add("transforms")
            size = 32 if kind == "cifar10" else 28
            items = [f"transforms.RandomCrop({size}, padding={size // 8})"]
            if kind == "cifar10":
                items.append("transforms.RandomHorizontalFlip()")
            items += ["transforms.ToTensor()", f"transforms.Normalize({_lit(mean)}, {_lit(std)})"]
            inner = "".join(f"        {t},\n" for t in items)
            tf = "transforms.Compose([\n" + inner + "    ])"
            return [
                f"{var} = datasets.{cls}({root_text}, train={train}, download={download}, transform={tf})"
            ], True, None
        self._add('''
            def image_tensors(dataset, mean, std):
                """A torchvision image set as normalised tensors in memory (Studio's fast path)."""
                data = torch.as_tensor(dataset.data)
                data = data.unsqueeze(1) if data.dim() == 3 else data.permute(0, 3, 1, 2)  # N x C x H x W
                x = data.float().div_(255)
                x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
                return x, torch.as_tensor(dataset.targets, dtype=torch.long)
        ''')
        return [
            f"{var} = image_tensors(",
            f"    datasets.{cls}({root_text}, train={train}, download={download}), mean={_lit(mean)}, std={_lit(std)}",
            ")",
        ], False, None

    def _load_data(self) -> str:
        s = self.s
        body, lazy, plain = self._dataset(s.data, "data", True)
        self.lazy_train = lazy
        self.lazy_val = False
        if s.val_data:
            val_lines, val_lazy, _ = self._dataset(s.val_data, "val", False)
            body += ["train = data"] + val_lines
            self.lazy_val = val_lazy
            has_val = True
        elif s.val_split > 0:
            if lazy:
                self._add('''
                    def split(data, fraction, seed, val_view=None):
                        """Hold out `fraction` of the samples for validation, chosen by a seeded
                        permutation (the same every run); both parts keep the original order.
                        `val_view`: the same files without augmentation, for validation."""
                        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
                        n_val = round(len(order) * fraction)
                        train, val = order[n_val:].sort().values, order[:n_val].sort().values
                        return Subset(data, train.tolist()), Subset(data if val_view is None else val_view, val.tolist())
                ''')
                self.data_imports.add("Subset")
                call = f"split(data, {s.val_split!r}, seed" + (f", val_view={plain})" if plain else ")")
            else:
                self._add('''
                    def split(data, fraction, seed):
                        """Hold out `fraction` of the samples for validation, chosen by a seeded
                        permutation (the same every run); both parts keep the original order."""
                        order = torch.randperm(len(data[0]), generator=torch.Generator().manual_seed(seed))
                        n_val = round(len(order) * fraction)
                        train, val = order[n_val:].sort().values, order[:n_val].sort().values
                        return tuple(t[train] for t in data), tuple(t[val] for t in data)
                ''')
                call = f"split(data, {s.val_split!r}, seed)"
            body += [f"# hold out {s.val_split:.0%} for validation", f"train, val = {call}"]
            self.lazy_val = lazy
            has_val = True
        else:
            body += ["train, val = data, None  # no validation set"]
            has_val = False
        self.has_val = has_val
        if s.loss.name == "bce_with_logits" and not lazy and s.task == "classification":
            self._add('''
                def float_targets(data, classes):
                    """Class labels as BCE targets: one 0/1 column for two classes, one-hot rows for more."""
                    if data is None or data[1].dtype.is_floating_point or data[1].dim() != 1:
                        return data
                    x, y = data
                    y = y.float().unsqueeze(1) if classes <= 2 else nn.functional.one_hot(y, classes).float()
                    return x, y
            ''')
            classes = self._classes(s.data)
            body += [
                f"classes = {classes}",
                "train, val = float_targets(train, classes), float_targets(val, classes)",
            ]
        kind = s.data.get("kind")
        if (
            s.data.get("standardize", kind == "csv")
            and kind in ("csv", "spirals", "moons", "blobs", "sine")
            and not self.lazy_val
        ):
            self._add('''
                def standardize(train, val):
                    """Scale each feature to mean 0 and standard deviation 1, with the training set's statistics."""
                    x = train[0]
                    mean, std = x.mean(0), x.std(0) if len(x) > 1 else torch.ones(x.shape[1])
                    std = torch.where(std > 0, std, torch.ones_like(std))
                    train = ((train[0] - mean) / std, *train[1:])
                    return train, val if val is None else ((val[0] - mean) / std, *val[1:])
            ''')
            body += ["train, val = standardize(train, val)"]
        body.append("return train, val")
        shape = "(x, y) tensors in memory" if not (self.lazy_train or self.lazy_val) else "datasets"
        doc = f'"""The training and validation sets as Studio makes them for `seed`: {shape}."""'
        return "def load_data(seed):\n" + textwrap.indent("\n".join([doc] + body), "    ") + "\n"

    def _classes(self, spec: dict) -> str:
        from studio.training import datasets as ds

        kind = spec.get("kind")
        if get_dataset(kind).family == "generated":
            args = ds.generated_arguments(spec)
            return repr(args.get("classes", get_dataset(kind).signature(args).num_classes))
        if kind in ds.TORCHVISION:
            return "10"
        return "int(data[1].max()) + 1"

    # ------------------------------------------------------------------ helpers
    def _helpers(self) -> list[str]:
        s = self.s
        out = [self._metric()]
        out.append(_dedent('''
            def batches(x, y, batch_size, order=None):
                """Mini-batches of in-memory tensors: one gather in `order` (if given), then slices."""
                if order is not None:
                    x, y = x[order], y[order]
                return zip(x.split(batch_size), y.split(batch_size))
        '''))
        if self.lazy_train:
            out.append(_dedent('''
                class EpochBatches(Sampler):
                    """Index batches for a DataLoader: a new random order every epoch, drawn from
                    `generator` (as Studio draws it), or the stored order without one."""

                    def __init__(self, n, batch_size, generator=None):
                        self.n, self.batch_size, self.generator = n, batch_size, generator

                    def __len__(self):
                        return math.ceil(self.n / self.batch_size)

                    def __iter__(self):
                        if self.generator is None:
                            order = list(range(self.n))
                        else:
                            order = torch.randperm(self.n, generator=self.generator).tolist()
                        return iter([order[i : i + self.batch_size] for i in range(0, self.n, self.batch_size)])
            '''))
        amp = s.precision != "none"
        if self.has_val:
            with_amp = ", autocast" if amp else ""
            grad = "torch.no_grad(), autocast" if amp else "torch.no_grad()"
            out.append(_dedent(f'''
                def evaluate(net, batches, loss_fn, device{with_amp}):
                    """Sums of the loss and the metric over `batches`, and the number of samples
                    (no gradients; dropout and batch norm in evaluation mode)."""
                    net.eval()
                    loss_sum = torch.zeros((), device=device)
                    metric_sum = torch.zeros((), device=device)
                    count = 0
                    with {grad}:
                        for x, y in batches:
                            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                            output = net(x)
                            loss_sum += loss_fn(output, y).float() * len(y)
                            metric_sum += per_sample_metric(output, y).sum()
                            count += len(y)
                    net.train()
                    return loss_sum.item(), metric_sum.item(), count
            '''))
        schedule = schedule_function(s)
        if schedule:
            out.append(schedule)
            out.append(_dedent('''
                def set_learning_rate(optimizer, lr):
                    for group in optimizer.param_groups:
                        group["lr"] = lr
            '''))
        out.append(_dedent('''
            def global_sums(*values, device):
                """The sums of `values` over all processes under torchrun; the values themselves otherwise."""
                if not dist.is_initialized():
                    return values
                totals = torch.tensor(values, dtype=torch.float64, device=device)
                dist.all_reduce(totals)
                return totals.tolist()
        '''))
        out.append(_dedent('''
            def write_metrics(path, history):
                """metrics.csv: one row per epoch, the columns of `studio train`."""
                with open(path, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(history[0]))
                    writer.writeheader()
                    writer.writerows(history)
        '''))
        out.append(_dedent('''
            def choose_device(name, local_rank):
                """auto: cuda, else mps, else cpu (as Studio chooses). Under torchrun each process
                takes the GPU of its local rank."""
                if name == "auto":
                    if torch.cuda.is_available():
                        name = "cuda"
                    elif torch.backends.mps.is_available():
                        name = "mps"
                    else:
                        name = "cpu"
                device = torch.device(name)
                if device.type == "cuda" and "LOCAL_RANK" in os.environ:
                    device = torch.device("cuda", local_rank)
                    torch.cuda.set_device(device)
                return device
        '''))
        out.append(_dedent(f'''
            def parse_args():
                parser = argparse.ArgumentParser(description={_lit(f"Train {self.cls} as its Studio project does.")})
                parser.add_argument("--epochs", type=int, default=EPOCHS, help="default: %(default)s")
                parser.add_argument(
                    "--batch-size", type=int, default=BATCH_SIZE, help="per process (default: %(default)s)"
                )
                parser.add_argument("--seed", type=int, default=SEED, help="default: %(default)s")
                parser.add_argument(
                    "--device", default=DEVICE, help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)"
                )
                parser.add_argument("--out", default=OUT, help="folder for metrics.csv and weights.pt")
                return parser.parse_args()
        '''))
        return out

    def _metric(self) -> str:
        name = self.s.loss.name
        if name in ("cross_entropy", "nll"):
            return _dedent('''
                def per_sample_metric(output, target):
                    """Accuracy of each sample: 1.0 when the highest score is the target class."""
                    hits = output.argmax(1) == target
                    return hits.reshape(len(target), -1).float().mean(1)
            ''')
        if name == "bce_with_logits":
            return _dedent('''
                def per_sample_metric(output, target):
                    """Accuracy of each sample: a positive logit predicts 1."""
                    hits = (output > 0) == (target > 0.5)
                    return hits.reshape(len(target), -1).float().mean(1)
            ''')
        return _dedent('''
            def per_sample_metric(output, target):
                """Mean absolute error of each sample."""
                return (output.float() - target.float()).abs().reshape(len(target), -1).mean(1)
        ''')

    # ------------------------------------------------------------------ main
    def _main(self) -> str:
        from studio.training.optim import implementation_options, loss_spec, optimizer_arguments

        s = self.s
        metric = s.metric_name
        amp = s.precision != "none"
        scaler = s.precision == "fp16"
        schedule = schedule_function(s) is not None
        plateau = s.schedule.name == "reduce_on_plateau"
        clip = float(s.grad_clip)
        L: list[str] = []

        def add(text: str, indent: int = 1) -> None:
            L.append(textwrap.indent(_dedent(text), "    " * indent).rstrip("\n"))

        add('''
            args = parse_args()
            # torchrun starts one process per GPU (or several on the CPU) and tells each its rank
            distributed = "LOCAL_RANK" in os.environ
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            device = choose_device(args.device, local_rank)
            if distributed:
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            rank = dist.get_rank() if distributed else 0
        ''')
        if self.has_val:
            add("world_size = dist.get_world_size() if distributed else 1")
        L.append("")
        val_var = "val_data" if self.has_val else "_"
        if self.downloads:
            add(f'''
                # the data (the first process downloads what is missing while the others wait)
                if rank != 0:
                    dist.barrier()
                train_data, {val_var} = load_data(args.seed)
                if distributed and rank == 0:
                    dist.barrier()
            ''')
        else:
            add(f'''
                # the data
                train_data, {val_var} = load_data(args.seed)
            ''')
        L.append("")
        opt_class, opt_kwargs = optimizer_arguments(s)
        options = implementation_options(s.optimizer.name, s.optimizer.implementation)
        loss_class, loss_kwargs = loss_spec(s.loss)
        add(f'''
            # the model; the same seed gives the same initial weights
            torch.manual_seed(args.seed)
            net = {self.cls}().to(device)
            params = [p for p in net.parameters() if p.requires_grad]
        ''')
        kw = _call_args(opt_kwargs)
        if len(options) > 1:
            first = _call(f"optimizer = torch.optim.{opt_class}", f"params, {kw}, {_call_args(options[0])}", 2)
            second = _call(f"optimizer = torch.optim.{opt_class}", f"params, {kw}, {_call_args(options[1])}", 2)
            add('''
                # the optimizer: fused into one kernel per step where torch has that for the device
                # (as Studio chooses), else the multi-tensor (foreach) implementation
                try:
            ''')
            L.append(first)
            add("except (RuntimeError, ValueError, TypeError):")
            L.append(second)
        else:
            add("# the optimizer")
            L.append(_call(f"optimizer = torch.optim.{opt_class}", f"params, {kw}, {_call_args(options[0])}", 1))
        add(f'''
            loss_fn = nn.{loss_class}({_call_args(loss_kwargs)})
            model = net
            if distributed:  # backward() averages the gradients over the processes
                device_ids = [device.index] if device.type == "cuda" else None
                model = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
        ''')
        if amp:
            dtype = "torch.bfloat16" if s.precision == "bf16" else "torch.float16"
            add(f'''
                # mixed precision ({s.precision}), on CUDA only (as in Studio)
                autocast = torch.autocast(device.type, dtype={dtype}, enabled=device.type == "cuda")
            ''')
            if scaler:
                add('''
                    scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
                ''')
        add('''
            # Studio seeds again once all is set up, so that training's randomness (dropout,
            # augmentation) does not depend on how many random numbers building the model drew
            torch.manual_seed(args.seed + rank)
        ''')
        L.append("")
        shuffle = bool(s.shuffle)
        if self.lazy_train:
            gen = "torch.Generator().manual_seed(args.seed)" if shuffle else "None"
            add(f'''
                # batches: a new order of the samples every epoch; under torchrun each process
                # takes its share of it (a DistributedSampler)
                sampler = DistributedSampler(train_data, shuffle={shuffle}, seed=args.seed) if distributed else None
                if distributed:
                    batch_sampler = BatchSampler(sampler, args.batch_size, drop_last=False)
                else:
                    batch_sampler = EpochBatches(len(train_data), args.batch_size, {gen})
                train_loader = DataLoader(
                    train_data,
                    batch_sampler=batch_sampler,
                    num_workers={s.workers},
                    pin_memory=device.type == "cuda",
                    persistent_workers={s.workers > 0},
                    generator=torch.Generator().manual_seed(args.seed + 1),
                )
            ''')
            if schedule:
                add("steps_per_epoch = len(train_loader)")
        else:
            add(f'''
                # batches: in memory, so the tensors move to the device once and batches are
                # slices; a new order of the samples every epoch ({"shuffled" if shuffle else "not shuffled"}), and under torchrun
                # each process takes its share of it (a DistributedSampler)
                train_x, train_y = (t.to(device) for t in train_data)
                shuffle = torch.Generator().manual_seed(args.seed)
                sampler = DistributedSampler(train_data[0], shuffle={shuffle}, seed=args.seed) if distributed else None
            ''')
            if schedule:
                add("steps_per_epoch = math.ceil((len(sampler) if distributed else len(train_x)) / args.batch_size)")
        if self.has_val:
            if self.lazy_val:
                add(f'''
                    # validation: each process checks its share (every world_size-th sample)
                    val_loader = DataLoader(
                        Subset(val_data, range(rank, len(val_data), world_size)),
                        batch_size=args.batch_size,
                        num_workers={s.workers},
                        pin_memory=device.type == "cuda",
                        persistent_workers={s.workers > 0},
                        generator=torch.Generator().manual_seed(args.seed + 1),
                    )
                ''')
            else:
                add('''
                    # validation: each process checks its share (every world_size-th sample)
                    val_x, val_y = (t[rank::world_size].to(device) for t in val_data)
                ''')
        if schedule:
            scale_arg = ", lr_scale" if plateau else ""
            add("# the learning-rate schedule, set before every step")
            if plateau:
                add("lr_scale, plateau_best, plateau_bad = 1.0, None, 0  # reduce on plateau")
            add(f"set_learning_rate(optimizer, learning_rate(0, steps_per_epoch, args.epochs{scale_arg}))")
        monitor = s.resolved_monitor()
        mode = s.monitor_mode()
        if s.early_stopping.enabled:
            add('''
                best, bad_epochs = None, 0  # early stopping
            ''')
        add('''
            out = Path(args.out)
            if rank == 0:
                out.mkdir(parents=True, exist_ok=True)
            history = []
            failed = False
        ''')
        if schedule:
            add("step = 0  # optimizer steps so far")
        L.append("")
        # -------------------------------------------------------------- the loop
        add('''
            for epoch in range(1, args.epochs + 1):
                start = time.perf_counter()
                model.train()
                losses, metric_sums, sizes = [], [], []
        ''')
        if self.lazy_train:
            add('''
                if distributed:
                    sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
                for x, y in train_loader:
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            ''', 2)
        else:
            order = "torch.randperm(len(train_x), generator=shuffle).to(device)" if shuffle else "None"
            add(f'''
                if distributed:
                    sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
                    order = torch.tensor(list(sampler), device=device)
                else:
                    order = {order}
                for x, y in batches(train_x, train_y, args.batch_size, order):
            ''', 2)
        if amp:
            add('''
                with autocast:
                    output = model(x)  # forward
                    loss = loss_fn(output, y)
                optimizer.zero_grad()
            ''', 3)
        else:
            add('''
                output = model(x)  # forward
                loss = loss_fn(output, y)
                optimizer.zero_grad()
            ''', 3)
        if scaler:
            add('''
                scaler.scale(loss).backward()  # backward: the gradients
            ''', 3)
            if clip:
                add(f'''
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, {clip!r}, foreach=True)
                ''', 3)
            add('''
                scaler.step(optimizer)  # update the weights
                scaler.update()
            ''', 3)
        else:
            add('''
                loss.backward()  # backward: the gradients
            ''', 3)
            if clip:
                add(f'''
                    torch.nn.utils.clip_grad_norm_(params, {clip!r}, foreach=True)
                ''', 3)
            add('''
                optimizer.step()  # update the weights
            ''', 3)
        if schedule:
            scale_arg = ", lr_scale" if plateau else ""
            add(f'''
                step += 1
                set_learning_rate(optimizer, learning_rate(step, steps_per_epoch, args.epochs{scale_arg}))
            ''', 3)
        add('''
            # keep the values on the device: reading one back (.item()) every step would wait
            # for the GPU
            losses.append(loss.detach())
            metric_sums.append(per_sample_metric(output.detach(), y).sum())
            sizes.append(len(y))
        ''', 3)
        add(f'''
            train_seconds = time.perf_counter() - start
            # the epoch's means over the samples (the last batch may be smaller)
            loss_sum = sum(value * size for value, size in zip(torch.stack(losses).tolist(), sizes))
            loss_sum, metric_sum, count = global_sums(
                loss_sum, sum(torch.stack(metric_sums).tolist()), sum(sizes), device=device
            )
            metrics = {{
                "epoch": epoch,
                "train_loss": loss_sum / max(1, count),
                "train_{metric}": metric_sum / max(1, count),
            }}
            if not math.isfinite(metrics["train_loss"]):
                if rank == 0:
                    print(
                        f"The loss became {{metrics['train_loss']}} in epoch {{epoch}}. Try a lower learning "
                        "rate, gradient clipping, or check the data for NaN values.",
                        file=sys.stderr,
                    )
                failed = True
                break
        ''', 2)
        if self.has_val:
            val_batches = "val_loader" if self.lazy_val else "batches(val_x, val_y, args.batch_size)"
            amp_arg = ", autocast" if amp else ""
            add(f'''
                val_sums = evaluate(net, {val_batches}, loss_fn, device{amp_arg})
                loss_sum, metric_sum, val_count = global_sums(*val_sums, device=device)
                metrics["val_loss"] = loss_sum / max(1, val_count)
                metrics["val_{metric}"] = metric_sum / max(1, val_count)
            ''', 2)
        add('''
            metrics["lr"] = optimizer.param_groups[0]["lr"]
            metrics["samples_per_s"] = count / train_seconds if train_seconds > 0 else 0.0
            metrics["seconds"] = time.perf_counter() - start
            history.append(metrics)
        ''', 2)
        better = "<" if mode == "min" else ">"
        if plateau:
            sp = s.schedule
            add(f'''
                # reduce the learning rate (x{sp.factor!r}) when {monitor} has not improved for {sp.patience} epochs
                value = metrics[{_lit(monitor)}]
                if not math.isnan(value):
                    if plateau_best is None or value {better} plateau_best:
                        plateau_best, plateau_bad = value, 0
                    else:
                        plateau_bad += 1
                        if plateau_bad > {sp.patience!r}:
                            lr_scale *= {sp.factor!r}
                            plateau_bad = 0
                            set_learning_rate(optimizer, learning_rate(step, steps_per_epoch, args.epochs, lr_scale))
            ''', 2)
        add('''
            if rank == 0:
                print(f"epoch {epoch}/{args.epochs}  " + "  ".join(
                    f"{name} {value:.4g}" for name, value in metrics.items() if name != "epoch"
                ), flush=True)
                write_metrics(out / "metrics.csv", history)
        ''', 2)
        if s.early_stopping.enabled:
            es = s.early_stopping
            add(f'''
                # early stopping: {monitor} has not improved (by more than {es.min_delta!r}) for {es.patience} epochs
                value = metrics[{_lit(monitor)}]
                if not math.isnan(value) and (best is None or value {better} best):
                    bad_epochs = 0 if best is None or abs(value - best) > {es.min_delta!r} else bad_epochs + 1
                    best = value
                elif best is not None:
                    bad_epochs += 1
                if bad_epochs >= {es.patience!r} and epoch < args.epochs:
                    if rank == 0:
                        print("Stopped early: {monitor} did not improve for {es.patience} epochs.")
                    break
            ''', 2)
        L.append("")
        add('''
            if rank == 0 and not failed:
                state = {name: value.detach().cpu() for name, value in net.state_dict().items()}
                if all(value.isfinite().all() for value in state.values() if value.is_floating_point()):
                    torch.save(state, out / "weights.pt")
                    print(f"Saved weights in {out / 'weights.pt'}, metrics in {out / 'metrics.csv'}")
            if distributed:
                dist.barrier()  # no process leaves while another still talks to it
                dist.destroy_process_group()
            sys.exit(1 if failed else 0)
        ''')
        return "def main():\n" + "\n".join(line for line in L) + "\n"


# ---------------------------------------------------------------------- the schedule
def schedule_function(settings) -> str | None:
    """Source of ``learning_rate(step, steps_per_epoch, epochs[, scale])`` for the project's
    schedule: :class:`studio.training.optim.LRSchedule`'s formula for that schedule only, with
    the same arithmetic (the tests compare the two step by step). None when the rate is fixed."""
    sch = settings.schedule
    name = sch.name
    warm = float(sch.warmup_epochs)
    if name == "none" and warm <= 0:
        return None
    base = float(settings.optimizer.lr)
    plateau = name == "reduce_on_plateau"
    args = "step, steps_per_epoch, epochs" + (", scale" if plateau else "")
    lines: list[str] = [f"base = {base!r}"]
    if name in ("cosine", "one_cycle"):
        lines.append("total = epochs * steps_per_epoch")
    has_warm = warm > 0 and name != "one_cycle"
    if has_warm:
        lines += [
            f"warmup = round({warm!r} * steps_per_epoch)  # linear warm-up steps",
            "factor = (step + 1) / (warmup + 1) if step < warmup else 1.0",
        ]
    what = {
        "none": "a fixed rate",
        "step": f"x{sch.gamma!r} every {sch.step_size} epochs",
        "cosine": f"cosine annealing to {sch.min_lr!r}",
        "one_cycle": f"one cycle: up to {base!r} in the first {sch.pct_start:.0%} of the steps, then down",
        "reduce_on_plateau": "scaled down when the monitored metric stops improving",
    }[name]
    if name == "none":
        lines.append("return base * factor")
    elif name == "step":
        decay = f"{float(sch.gamma)!r} ** (step // ({int(sch.step_size)} * steps_per_epoch))"
        lines += [f"factor *= {decay}" if has_warm else f"factor = {decay}", "return base * factor"]
    elif name == "cosine":
        lines += [
            "progress = min(1.0, max(0, step - warmup) / max(1, total - warmup))" if has_warm
            else "progress = min(1.0, max(0, step) / max(1, total))",
            f"floor = min({float(sch.min_lr)!r}, base)",
            "lr = floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * progress))",
            "return lr * factor" if has_warm else "return lr",
        ]
    elif name == "one_cycle":
        lines += [
            f"rise = max(1, int({float(sch.pct_start)!r} * total) - 1)  # steps up to the peak",
            "if step <= rise:",
            "    start, end, progress = 1 / 25.0, 1.0, step / rise",
            "else:",
            "    start, end, progress = 1.0, 1 / 25.0 / 1e4, min(1.0, (step - rise) / max(1, total - 1 - rise))",
            "factor = end + (start - end) / 2.0 * (math.cos(math.pi * progress) + 1)",
            "return base * factor",
        ]
    else:  # reduce_on_plateau
        lines += [
            "lr = base * factor * scale" if has_warm else "lr = base * scale",
            f"return max(lr, min({float(sch.min_lr)!r}, base))",
        ]
    if has_warm:
        what += f", after a warm-up of {warm:g} epoch{'s' if warm != 1 else ''}"
    doc = f'"""The learning rate of optimizer step `step` (from 0): {what}."""'
    return f"def learning_rate({args}):\n" + textwrap.indent("\n".join([doc] + lines), "    ") + "\n"


register_format(ExportFormat(
    "script", "Training script", ".py",
    "A standalone train.py: the model, the data, the optimizer and the loop (torchrun-ready).",
    export_script,
))
