"""A Hugging Face transformers model under the audit: GPT-2 built from a small config.

    python -m audits.run --target examples.hf_gpt2:make

Nothing is downloaded: the model is built from a `GPT2Config` with random weights,
two layers and tiny dimensions, so the audit takes seconds on a CPU. Swap in
`GPT2LMHeadModel.from_pretrained("gpt2")` to audit the real thing; the checks are
the same.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

BATCH, SEQ_LEN = 2, 16  # the example batch: 2 sequences of 16 token ids


def make_config() -> GPT2Config:
    return GPT2Config(
        vocab_size=128,  # tiny vocabulary: random ids, no tokenizer needed
        n_positions=64,  # longest sequence the position table holds (>= SEQ_LEN)
        n_embd=32,  # model width
        n_layer=2,
        n_head=2,  # 16 dims per head
        # Dropout off: the parity check compares compiled with eager outputs and
        # gradients, and a compiled graph draws its dropout masks from another RNG stream.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        # No key/value cache in the output: the audit compares tensors, and a training
        # forward has no use for a cache.
        use_cache=False,
    )


def make() -> tuple[nn.Module, tuple[torch.Tensor]]:
    """The audit's factory: the module and one batch of example inputs.

    The audit calls it once, then gives each check a fresh copy of both. The model
    returns a `CausalLMOutputWithCrossAttentions` (a dict): the audit compares every
    floating-point tensor in it, here the logits.
    """
    model = GPT2LMHeadModel(make_config())
    input_ids = torch.randint(0, model.config.vocab_size, (BATCH, SEQ_LEN))  # (B, T)
    return model, (input_ids,)
