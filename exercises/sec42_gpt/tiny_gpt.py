"""§42 given code: a tiny GPT, built from your ``gpt.py``, learns to sort digits.

The training itself lives at the end of ``gpt.py`` (``train_sorting_gpt``, given code: the grader
calls it there); this file keeps the names the notebook and the demos use, plus the comparison of
the load-balancing loss. Run it once your ``gpt_forward`` (and, for the MoE half, ``moe_layer`` and
``load_balancing_loss``) pass their tests — nothing here is an exercise::

    import tiny_gpt
    result = tiny_gpt.train_sort_gpt(seed=0)        # ~5 s on one CPU core
    tiny_gpt.sort_accuracy(result["params"])        # share of test sequences sorted exactly
    tiny_gpt.compare_load_balancing(seed=0)         # MoE: expert load with and without the aux loss

See the comment above ``SORT_DIGITS`` in ``gpt.py`` for the task and for what ``router_skew`` does.
"""

import gpt  # your §42 module, in the same folder
from gpt import detached, greedy_sort, make_sort_data, moe_gpt_forward, sort_accuracy  # noqa: F401

N_DIGITS = gpt.SORT_DIGITS
SEP = gpt.SORT_SEP
N_VOCAB = gpt.SORT_VOCAB
N_HEADS = gpt.SORT_HEADS
tensors = gpt.param_tensors


def init_params(moe=False, **kwargs):
    """``gpt.init_sort_params`` (``moe`` is its ``use_moe``)."""
    return gpt.init_sort_params(use_moe=moe, **kwargs)


def is_moe(params):
    return "moe" in params["blocks"][0]


def forward(ids, params, n_heads=N_HEADS, k=1):
    """Logits of either model: ``gpt.gpt_forward`` for a dense GPT, ``moe_gpt_forward`` for MoE."""
    if is_moe(params):
        return moe_gpt_forward(ids, params, n_heads, k)[0]
    return gpt.gpt_forward(ids, params, n_heads)


def train_sort_gpt(seed=0, moe=False, **train_args):
    """``gpt.train_sorting_gpt`` (``moe`` is its ``use_moe``)."""
    return gpt.train_sorting_gpt(seed=seed, use_moe=moe, **train_args)


def compare_load_balancing(seed=0, aux_weight=0.01, router_skew=4.0, **train_args):
    """The MoE GPT trained with and without the load-balancing loss, both from a router that
    starts biased towards expert 0.

    Returns:
        ``{"with_loss": r, "without_loss": r}``, each ``r = {"expert_load": [E shares],
        "max_load": float, "accuracy": float, "seconds": float}``.
    """
    out = {}
    for name, weight in (("with_loss", aux_weight), ("without_loss", 0.0)):
        trained = train_sort_gpt(seed=seed, moe=True, aux_weight=weight, router_skew=router_skew, **train_args)
        load = trained["expert_load"]
        out[name] = {
            "expert_load": load,
            "max_load": max(load),
            "accuracy": sort_accuracy(trained["params"], k=trained["config"]["k"]),
            "seconds": trained["seconds"],
        }
    return out
