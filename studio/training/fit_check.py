"""Does the data fit the model? The check before Train, in the model's own words.

Shape inference knows what the model takes and gives; the training settings say what the data
holds (its declared signature: sample shape, classes, target) and which loss compares the two.
This module puts them side by side and names each mismatch with its fix: the Input's shape
against the samples, the output's width against the classes (one score per class for
cross-entropy, one output per label for binary cross-entropy) or the regression target.
Where the fix is one obvious edit it comes as a ``Fix``: a graph command the window offers as a
button and pushes like any other edit (so it is undoable).

It imports no Qt and no torch: it reads the analysis it is given, and the data only through
the dataset kind's ``describe`` (a header, a folder listing, declared parameters), cached per
data spec so that a check on every edit never reads a file twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.blocks.registry import BATCH, ROLE_INPUT, ROLE_OUTPUT
from studio.blocks.shapes import fmt_shape
from studio.graph.commands import Command, Macro, SetParams
from studio.graph.model import Block, Graph
from studio.training.fixes import FitProblem, Fix, SettingsFix, cache_key, insert_after

FIT_PREFIX = "Training data"


# ----------------------------------------------------------------------------- the data


def data_signature(spec: Any, base_dir: str | Path | None):
    """The one adapter to the training kinds: the DataSignature of a data spec (raises the
    kinds' one-line ``DataError``, or ``KeyError`` with a sentence for an unknown kind)."""
    from studio.training.kinds import get_dataset

    spec = dict(spec) if isinstance(spec, dict) else {}
    kind = get_dataset(spec.get("kind"))
    options = {k: v for k, v in spec.items() if k != "kind"}
    return kind.describe(options, base_dir)


_cache: dict[tuple, Any] = {}


def cached_signature(spec: Any, base_dir: str | Path | None):
    """The signature (or the error text) read before for this spec; ``None`` if never read."""
    return _cache.get(cache_key(spec, base_dir))


def read_signature(spec: Any, base_dir: str | Path | None):
    """Read (may take a while for a large CSV: call it off the GUI thread) and cache the
    signature; returns it, or the one-line reason it cannot be read."""
    key = cache_key(spec, base_dir)
    if key not in _cache:
        try:
            value: Any = data_signature(spec, base_dir)
        except Exception as e:  # DataError, or KeyError naming the choices: both one line
            value = str(e).strip("'\"") or type(e).__name__
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = value
    return _cache[key]


def describe_signature(sig) -> str:
    """``shapes (600 samples): samples of 1×28×28, 3 classes``: the data as the check saw it."""
    target = sig.held.phrase(sig)
    shape = fmt_shape(sig.sample_shape) if sig.sample_shape is not None else "?"
    return f"{sig.note + ': ' if sig.note else ''}samples of {shape}, {target}"


# ------------------------------------------------------------------------------ checks


def check_training(
    graph: Graph, analysis, training: dict | None, base_dir=None, signature=None
) -> list[FitProblem]:
    """Every problem of the training settings and of the data against the model.

    ``signature``: a DataSignature or an error text read before (the window reads it in the
    background); by default it is read here (the terminal)."""
    from studio.training.kinds import get_loss
    from studio.training.settings import TrainingSettings

    problems = weights_file_problems(graph, base_dir) + settings_problems(training)
    if problems:
        return problems
    settings = TrainingSettings.from_dict(training)
    read = signature is None  # the terminal reads here; the window read in the background
    if read:
        signature = read_signature(settings.data, base_dir)
    if isinstance(signature, str):
        found = [FitProblem(f"{FIT_PREFIX}: {signature}")]
    else:
        found = check_fit(graph, analysis, signature, get_loss(settings.loss.name))
    if not any(p.is_error for p in found):  # classes the model fits, but far from balanced
        from studio.training.balance_check import balance_problems

        found += balance_problems(training, base_dir, read=read)
    if not (training or {}).get("data"):  # nobody chose data yet (a new or imported model)
        return [_as_warning(p) for p in found]
    return found


def weights_file_problems(graph: Graph, base_dir=None) -> list[FitProblem]:
    """A module use whose 'start from weights' file is missing, special, too large or changed
    after Open as layers wrote it: found before anything is built."""
    from studio.graph.weights_files import weights_problems

    out = []
    for block, message in weights_problems(graph, base_dir):
        if block.id in graph.blocks:
            out.append(FitProblem(message[0].upper() + message[1:] + ".", block_id=block.id))
        else:
            out.append(FitProblem(f"{block.name} (inside a module): {message}."))
    return out


def _as_warning(problem: FitProblem) -> FitProblem:
    """A mismatch with the default data is worth knowing, not a broken project; and no advice or
    one-click fix that bends the model to that default (an imported resnet18 was offered "Set
    shape to 2" for the spirals nobody chose): the mismatch's first sentence, then "choose"."""
    import re
    from dataclasses import replace

    from studio.graph.validation import WARNING

    mismatch = re.split(r"(?<=[.!?])\s+(?=[A-Z])", problem.message, maxsplit=1)[0]
    message = (
        "No training data is chosen yet, and the default set does not fit this model: "
        f"{mismatch[:1].lower()}{mismatch[1:]} Choose the data: Dataset, in the Training panel's settings."
    )
    return replace(problem, message=message, severity=WARNING, fix=None)


def settings_problems(training: dict | None) -> list[FitProblem]:
    """The settings' own problems (a learning rate of 0, an unknown loss), one row each."""
    from studio.training.settings import TrainingSettings

    return [
        FitProblem(f"Training settings: {p}")
        for p in TrainingSettings.from_dict(training).validate()
    ]


def data_spec(training: dict | None) -> Any:
    """The data spec the settings train on (defaults filled as the trainer fills them)."""
    from studio.training.settings import TrainingSettings

    return TrainingSettings.from_dict(training).data


def check_fit(graph: Graph, analysis, sig, loss) -> list[FitProblem]:
    """The data's signature ``sig`` and the ``loss`` kind against the analysed model."""
    inputs = [b for b in graph.blocks.values() if b.spec.role == ROLE_INPUT]
    outputs = [b for b in graph.blocks.values() if b.spec.role == ROLE_OUTPUT]
    out: list[FitProblem] = []
    if len(inputs) == 1 and sig.sample_shape is not None:
        out += _resize_problems(graph, inputs[0], sig) or _input_problems(inputs[0], sig)
    if out or len(outputs) != 1:
        return out  # the output follows from a wrong input: fix that first
    if sig.vocab_size is not None:
        out += _embedding_problems(graph, sig.vocab_size)
    info = analysis.block_info(outputs[0].id)
    shape = info.in_shapes[0] if info.in_shapes else None
    if shape is None:
        return out  # shape problems are listed already
    sig = signature_for_loss(sig, loss)
    target = loss.targets  # what the loss compares the output with (`kinds.LossTarget`)
    if target.windows or sig.held.windows:
        out += _token_problems(graph, analysis, outputs[0], shape, sig, loss)
    elif target.class_indices and sig.numeric and (sig.num_classes or 0) > MANY_NUMERIC_CLASSES:
        out.append(
            FitProblem(
                f"The targets are {sig.num_classes} different numbers, which looks like a regression target, "
                f"but {loss.label} treats each number as a class. Choose a regression loss such as mean squared "
                "error (the model then needs one output).",
                block_id=outputs[0].id,
            )
        )
    elif target.class_indices:
        out += _class_problems(graph, analysis, outputs[0], shape, sig, loss)
    else:  # one output per label (class labels one-hot) or per target value
        width = _label_width(sig) if target.float_targets else sig.target_width or 1
        out += _width_problems(graph, analysis, outputs[0], shape, width, loss, target.unit)
    return out + _applied_twice(graph, outputs[0], loss)


def _applied_twice(graph: Graph, output: Block, loss) -> list[FitProblem]:
    """A Softmax just before the Output with cross-entropy (or a Sigmoid with BCE with logits):
    the loss applies it again, a classic first model's mistake that trained without a word.
    A warning: the model trains, slowly and to a wrong loss; the fix takes the block out."""
    from studio.graph.commands import Connect, RemoveBlocks
    from studio.graph.validation import WARNING

    ports = output.input_ports()
    edge = graph.edge_into(output.id, ports[0].name) if loss.applies and ports else None
    block = graph.blocks.get(edge.src) if edge is not None else None
    if block is None or not block.spec.squashes or block.spec.squashes != loss.applies:
        return []
    ins = block.input_ports()
    into = graph.edge_into(block.id, ins[0].name) if ins else None

    def remove(g: Graph, b=block.id, o=output.id, port=edge.dst_port, into=into) -> Command:
        steps = [RemoveBlocks([b], [])]
        if into is not None:
            steps.append(Connect(into.src, into.src_port, o, port))
        return Macro(f"Remove {block.name}", steps)

    return [
        FitProblem(
            f"A {block.spec.label} just before the Output, but {loss.label} applies "
            f"{loss.applies} itself: applied twice, the model learns slowly, from a wrong loss. "
            "Remove it: the model then returns the raw scores (logits) the loss expects.",
            block_id=block.id,
            severity=WARNING,
            fix=Fix(f"Remove {block.name}", remove),
        )
    ]


MANY_NUMERIC_CLASSES = (
    20  # more distinct whole-number targets than this: likely a regression target
)


def signature_for_loss(sig, loss):
    """The data as the loss reads it: numeric labels are one regression value each for a loss
    that takes numbers (the check reads the loss before it counts classes)."""
    from dataclasses import replace

    from studio.training.signatures import VALUES

    if loss.targets.numbers and sig.held.labels and sig.numeric:
        return replace(sig, num_classes=None, target=VALUES, target_width=1)
    return sig


def _resize_problems(graph: Graph, block: Block, sig) -> list[FitProblem]:
    """Images at their own size before a pretrained block (one whose declaration loads assets,
    a Backbone with ImageNet weights) of another input size: resize the images to the Input's size,
    which that block was made for, rather than change the Input."""
    have, want = tuple(block.params["shape"]), tuple(sig.sample_shape)
    if not sig.own_size or have == want or len(have) != 3 or have[0] != want[0]:
        return []
    after = [graph.blocks[b] for b in graph.successors().get(block.id, []) if b in graph.blocks]
    pretrained = [b for b in after if b.spec.assets is not None and b.spec.assets(b.params)]
    if not pretrained:
        return []
    size = list(have[1:])

    def resize(training: dict) -> dict:
        data = training.get("data") if isinstance(training.get("data"), dict) else {}
        return {**training, "data": {**data, "size": size}}

    text = "×".join(map(str, size))
    return [
        FitProblem(
            f"The images are {want[1]}×{want[2]} ({sig.note}), but the pretrained {pretrained[0].name} after "
            f"this Input takes {text} images. Set the Image size to {text}.",
            block_id=block.id,
            fix=SettingsFix(
                f"Resize the images to {text}", lambda g: Macro("", []), training=resize
            ),
        )
    ]


def _input_problems(block: Block, sig) -> list[FitProblem]:
    have, want = tuple(block.params["shape"]), tuple(sig.sample_shape)
    problems = []
    if have != want:
        data, model = fmt_shape(want), fmt_shape(have)
        how = f"Set its shape to {data}"
        if len(have) == 1 < len(want):
            how += " and insert a Flatten after it"
        elif _numel(have) == _numel(want) and len(want) == 1 < len(have):
            how += f" and insert an Unflatten to {model} after it"
        else:
            how += ", then adapt the layers after it"
        if sig.own_size and len(have) == len(want) == 3 and have[0] in (1, 3):
            # an image folder read at its own size: it can be read to fit this Input instead
            # (the shapes CNN on 8x8 digit scans only said to rebuild the model for 3x8x8)
            how += (
                f"; or read the images to fit it: set Channels to {have[0]} and Image size to "
                f"{have[1]}, {have[2]} in the training settings"
            )
        note = f" in {sig.note}" if sig.note else ""
        problems.append(
            FitProblem(
                f"The data gives samples of {data}{note}, but this Input expects {model}. {how}.",
                block_id=block.id,
                fix=Fix(f"Set shape to {data}", _set_input_shape(block.id, want, have)),
            )
        )
    if sig.dtype and block.params.get("dtype") not in (None, sig.dtype):
        problems.append(
            FitProblem(
                f"The data holds {sig.dtype} values, but this Input expects {block.params['dtype']}. "
                f"Set its dtype to {sig.dtype}.",
                block_id=block.id,
                fix=Fix(
                    f"Set dtype to {sig.dtype}",
                    lambda g, b=block.id, d=sig.dtype: SetParams(b, {"dtype": d}),
                ),
            )
        )
    return problems


def _set_input_shape(block_id: str, want: tuple, have: tuple) -> Callable[[Graph], Command]:
    """The Input's shape from the data; when the Input was a flat vector and the data are
    images, a Flatten goes in after it so the layers that took a vector still get one (their
    input sizes are inferred, so any image size works); the other way round, an Unflatten
    gives the layers after it the images they took."""

    def make(graph: Graph) -> Command:
        set_shape = SetParams(block_id, {"shape": list(want)})
        if len(have) == 1 < len(want):
            adapter = insert_after(graph, block_id, "flatten")
        elif len(want) == 1 < len(have) and _numel(want) == _numel(have):
            adapter = insert_after(graph, block_id, "unflatten", {"dim": 1, "sizes": list(have)})
        else:
            return set_shape
        return Macro("Fit the Input to the data", [set_shape, *adapter])

    return make


def _class_problems(graph, analysis, output: Block, shape, sig, loss) -> list[FitProblem]:
    if not sig.held.labels:
        return [
            FitProblem(
                f"{loss.label} needs class labels, but the data's targets are numbers"
                f"{f' ({sig.note})' if sig.note else ''}. Choose a regression loss such as mean squared error.",
                block_id=output.id,
            )
        ]
    k = sig.num_classes
    if k is None or not loss.needs_logits_per_class:
        return []
    if len(shape) < 2:
        return [
            FitProblem(
                f"The model gives {fmt_shape(shape)}: one value per sample, but {loss.label} needs one "
                f"score per class ({fmt_shape((BATCH, k))} for {k} classes).",
                block_id=output.id,
            )
        ]
    if shape[1] == k:
        return []
    return _resize_problem(
        graph,
        analysis,
        output,
        shape,
        k,
        f"The data has {k} classes, but the model gives {shape[1]} scores per sample "
        f"({fmt_shape(shape)}); {loss.label} needs one per class.",
    )


def _embedding_problems(graph: Graph, vocab: int) -> list[FitProblem]:
    """Each layer looking token ids of the Input up (it declares ``num_embeddings``) must have
    a row for every id of the vocabulary."""
    out = []
    for block in graph.blocks.values():
        n = block.params.get("num_embeddings")
        if not isinstance(n, int) or n >= vocab or not _reads_input(graph, block):
            continue
        out.append(
            FitProblem(
                f"The data's vocabulary has {vocab} tokens, but {block.name} has rows for only {n} "
                f"(num_embeddings), so token ids from {n} up cannot be looked up. Set its vocabulary size to {vocab}.",
                block_id=block.id,
                fix=Fix(
                    f"Set {block.name} to {vocab} tokens",
                    lambda g, b=block.id: SetParams(b, {"num_embeddings": vocab}),
                ),
            )
        )
    return out


def _reads_input(graph: Graph, block: Block) -> bool:
    edges = [e for port in block.input_ports() if (e := graph.edge_into(block.id, port.name))]
    return any(graph.blocks[e.src].spec.role == ROLE_INPUT for e in edges)


def _token_problems(graph, analysis, output: Block, shape, sig, loss) -> list[FitProblem]:
    """Text windows and the next-token loss go together; the model gives N x T x V scores."""
    if not sig.held.windows:
        return [
            FitProblem(
                f"{loss.label} needs a text file's windows, but the data has one label per sample"
                f"{f' ({sig.note})' if sig.note else ''}. Choose Cross-entropy.",
                block_id=output.id,
            )
        ]
    if not loss.targets.windows:
        return [
            FitProblem(
                f"The text data asks for the next token at every position; {loss.label} cannot "
                "compare that. Choose Next-token cross-entropy as the loss.",
                block_id=output.id,
            )
        ]
    t, v = sig.sample_shape[0], sig.vocab_size
    if len(shape) != 3 or shape[1] != t:
        return [
            FitProblem(
                f"The model gives {fmt_shape(shape)}, but {loss.label} needs one score per vocabulary token at "
                f"each position of the window ({fmt_shape((BATCH, t, v))}).",
                block_id=output.id,
            )
        ]
    if shape[2] == v:
        return []
    return _resize_problem(
        graph,
        analysis,
        output,
        shape,
        v,
        f"The data's vocabulary has {v} tokens, but the model gives {shape[2]} scores per position "
        f"({fmt_shape(shape)}); {loss.label} needs one per token.",
    )


def _label_width(sig) -> int | None:
    """Outputs binary cross-entropy needs: one per label (one 0/1 column for two classes)."""
    return sig.held.width(sig)


def _width_problems(
    graph, analysis, output: Block, shape, width, loss, what: str
) -> list[FitProblem]:
    if width is None or tuple(shape[1:]) == (width,):
        return []
    per = f"{width} {what}{'s' * (width != 1)} per sample"
    if len(shape) != 2:
        return [
            FitProblem(
                f"The targets have {per} ({fmt_shape((BATCH, width))}), but the model gives "
                f"{fmt_shape(shape)}; {loss.label} compares them one to one. End the model with a "
                f"Linear layer of {width} out feature{'s' * (width != 1)}.",
                block_id=output.id,
            )
        ]
    return _resize_problem(
        graph,
        analysis,
        output,
        shape,
        width,
        f"The targets have {per}, but the model gives {shape[1]} ({fmt_shape(shape)}); "
        f"{loss.label} needs one output per {what}.",
    )


def _resize_problem(graph, analysis, output: Block, shape, n: int, text: str) -> list[FitProblem]:
    """The output is 2-D but `n` wide is needed: name the layer that sets its width, and offer
    to set that layer's out_features."""
    layer = _feature_layer(graph, analysis, output, shape)
    where = f" Set {layer.name}'s out features to {n}." if layer is not None else ""
    return [
        FitProblem(
            text + where,
            block_id=layer.id if layer is not None else output.id,
            fix=_out_features_fix(layer, n),
        )
    ]


def _out_features_fix(layer: Block | None, n: int) -> Fix | None:
    if layer is None:
        return None
    return Fix(
        f"Set {layer.name} to {n} outputs", lambda g, b=layer.id: SetParams(b, {"out_features": n})
    )


def _feature_layer(graph: Graph, analysis, output: Block, shape) -> Block | None:
    """The layer that decides the output's width: walking back from the Output through blocks
    without weights (activations, dropout), the first block with weights, if it declares
    ``out_features`` and its output is the model's output width."""
    bid = output.id
    seen = set()
    while bid not in seen:
        seen.add(bid)
        edges = [
            e for port in graph.blocks[bid].input_ports() if (e := graph.edge_into(bid, port.name))
        ]
        if len(edges) != 1:
            return None
        block = graph.blocks[edges[0].src]
        info = analysis.block_info(block.id)
        if info.params or "out_features" in block.params:
            good = (
                "out_features" in block.params
                and info.out_shapes
                and info.out_shapes[0] == tuple(shape)
            )
            return block if good else None
        bid = block.id
    return None


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
