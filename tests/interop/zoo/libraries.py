"""The timm and Hugging Face transformers models the zoo benchmark and tests import.

Built from configs with random initialisation (no network, never ``from_pretrained``). Each
entry is ``name -> make()`` returning ``(model, example_args)``, the shape the importer's
``file.py:make`` callables take.
"""

from __future__ import annotations

import torch

#: 25 timm families, the smallest variant of each; (name, image size)
TIMM = {
    "resnet10t": 64,
    "efficientnet_b0": 64,
    "mobilenetv3_small_050": 64,
    "ghostnet_100": 64,
    "regnetx_002": 64,
    "densenet121": 64,
    "inception_v3": 96,
    "cspresnet50": 64,
    "coatnet_nano_rw_224": 224,
    "maxvit_nano_rw_256": 256,
    "levit_128s": 224,
    "efficientformer_l1": 224,
    "convnext_atto": 64,
    "poolformer_s12": 64,
    "hrnet_w18_small": 64,
    "vit_tiny_patch16_224": 224,
    "deit_tiny_patch16_224": 224,
    "pvt_v2_b0": 64,
    "swin_tiny_patch4_window7_224": 224,
    "mobilevitv2_050": 64,
    "resmlp_12_224": 224,
    "repvgg_a0": 64,
    "rexnet_100": 64,
    "lcnet_050": 64,
    "edgenext_xx_small": 64,
}


def timm_make(name: str):
    def make(batch: int = 2):
        import timm

        model = timm.create_model(name, pretrained=False)
        size = TIMM[name]
        return model, (torch.randn(batch, 3, size, size),)

    return make


def timm_second(name: str):
    """``example(batch)`` at a second image size, 32 pixels from the first (the stride of most
    of these models): larger for the small inputs, smaller for the 224-pixel ones."""
    size = TIMM[name]
    other = size + 32 if size < 128 else size - 32
    return lambda batch=2: (torch.randn(batch, 3, other, other),)


def gpt2(batch: int = 2, seq: int = 12):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        vocab_size=100,
        n_positions=64,
        use_cache=False,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config), (torch.randint(0, 100, (batch, seq)),)


def bert(batch: int = 2, seq: int = 12):
    from transformers import BertConfig, BertModel

    config = BertConfig(
        num_hidden_layers=2,
        num_attention_heads=2,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=100,
        max_position_embeddings=64,
    )
    return BertModel(config, add_pooling_layer=False), (torch.randint(0, 100, (batch, seq)),)


def vit(batch: int = 2, seq: int = 0):
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(
        num_hidden_layers=2,
        num_attention_heads=2,
        hidden_size=32,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
        num_labels=10,
    )
    return ViTForImageClassification(config), (torch.randn(batch, 3, 32, 32),)


def t5(batch: int = 2, seq: int = 12):
    from transformers import T5Config, T5Model

    config = T5Config(
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        d_model=32,
        d_kv=16,
        d_ff=64,
        vocab_size=100,
        use_cache=False,
    )
    ids = torch.randint(0, 100, (batch, seq))
    return T5Model(config), (ids, None, ids[:, :5])


def bart(batch: int = 2, seq: int = 12):
    from transformers import BartConfig, BartModel

    config = BartConfig(
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        d_model=32,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=100,
        max_position_embeddings=64,
        use_cache=False,
    )
    return BartModel(config), (torch.randint(3, 100, (batch, seq)),)


TRANSFORMERS = {"gpt2": gpt2, "bert": bert, "vit": vit, "t5": t5, "bart": bart}
