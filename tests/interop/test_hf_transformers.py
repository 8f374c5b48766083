"""Hugging Face transformers models from tiny configs (no downloads), imported as a user would
(``file.py:make`` returning ``(model, example_args)``): the same outputs, the original
``state_dict`` loading strictly into the export, at two batch sizes and two sequence lengths.

ViT is tested with the other zoo models (tests/interop/test_zoo.py).
"""

from __future__ import annotations

import pytest
import torch

from studio.compiler import generate
from tests.interop.test_zoo import _perturbed, assert_exact
from tests.interop.zoo import libraries

pytest.importorskip("transformers")


def test_bert_keeps_attention_self_so_its_state_dict_loads_strictly():
    """BertAttention's child is named ``self`` (``attention.self.query.weight``): a Python
    name reserved for variables, but an attribute may have it, so the export writes
    ``self.self = BertSelfAttention()`` as Hugging Face does and the keys load strictly."""
    torch.manual_seed(0)
    model, (ids,) = libraries.bert(2, 12)
    result, export = assert_exact(_perturbed(model), (ids,), [(torch.randint(0, 100, (3, 12)),)])
    code = generate(result.project.graph, result.project.name).source
    assert "self.self = BertSelfAttention()" in code
    assert "encoder.layer.1.attention.self.query.weight" in export.state_dict()
