from studio.blocks.registry import all_block_types, categories


def test_the_palette_starts_with_inputs_and_layers():
    cats = list(categories())
    assert cats[:3] == ["Input / Output", "Layers", "Convolution & pooling"]
    assert cats.index("Activations") < cats.index("Pretrained")


def test_every_block_type_is_documented_and_maps_to_torch():
    types = all_block_types()
    assert len(types) >= 40
    for spec in types:
        assert spec.description and spec.torch_name and spec.category, spec.id
        for name, param in spec.params.items():
            assert param.kind in {"int", "float", "bool", "choice", "ints", "text"}, (spec.id, name)
