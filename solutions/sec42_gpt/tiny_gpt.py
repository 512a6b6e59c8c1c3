"""§42 given code: a tiny GPT, built from your ``gpt.py``, learns to sort digits.

Run it once your ``gpt_forward`` (and, for the second half, ``moe_layer`` and
``load_balancing_loss``) pass their tests — nothing here is an exercise::

    import tiny_gpt
    result = tiny_gpt.train_sort_gpt(seed=0)        # ~5 s on one CPU core
    tiny_gpt.sort_accuracy(result["params"])        # share of test sequences sorted exactly
    tiny_gpt.compare_load_balancing(seed=0)         # MoE: expert load with and without the aux loss

The task: a sequence of ``N_DIGITS`` random digits, a separator, then the same digits sorted::

    3 9 1 4 1 7 | 1 1 3 4 7 9

The model reads the digits and the separator (the prompt) and must write the sorted digits one at
a time (greedy decoding). The loss is the cross-entropy of the sorted half only. Training is
seeded (weights and data from ``torch.Generator``s) and runs on one thread, so the same call gives
the same numbers everywhere. Every function returns plain data (tensors, numbers, lists, dicts).

Mixture of Experts: ``moe=True`` replaces every block's feed-forward by your ``moe_layer`` (``E``
experts, top-``k`` routing); the loss then adds ``aux_weight`` times your ``load_balancing_loss``.
A router can collapse: send most tokens to a few experts, which then learn the most and get
chosen even more, while the others idle. ``compare_load_balancing`` starts both runs from such an
unlucky router (``router_skew``: a direction shared by every token points to expert 0). Without the
load-balancing term (``aux_weight=0``) expert 0 keeps most of the load; with it the load spreads
evenly over the experts within a few dozen steps. (With top-1 routing, ``k=1``, the renormalised
gate weight is always 1, so the sorting loss does not move the router at all — only the
load-balancing loss does.)
"""

import math
import time

import gpt  # your §42 module, in the same folder
import torch

N_DIGITS = 6  # digits to sort
SEP = 10  # the separator id; ids 0..9 are the digits themselves
N_VOCAB = 11
N_HEADS = 4


# --- data -------------------------------------------------------------------------------------


def make_sort_data(n, n_digits=N_DIGITS, seed=0):
    """``n`` sequences ``digits | SEP | sorted digits`` as an int64 tensor ``(n, 2 * n_digits + 1)``."""
    return _sort_batch(n, n_digits, torch.Generator().manual_seed(seed))


def _sort_batch(n, n_digits, g):
    digits = torch.randint(0, 10, (n, n_digits), generator=g)  # (n, n_digits)
    sep = torch.full((n, 1), SEP)
    return torch.cat([digits, sep, digits.sort(dim=1).values], dim=1)  # (n, 2 n_digits + 1)


# --- model ------------------------------------------------------------------------------------


def init_params(
    n_layers=2, d=64, d_ff=256, T_max=2 * N_DIGITS, moe=False, n_experts=4, gate_std=0.02, router_skew=0.0, seed=0
):
    """GPT parameters in the layout of ``gpt.py`` (normal(0, 0.02) weights, zero biases, LayerNorm 1/0).

    With ``moe=True`` each block has ``"moe": {"W_gate": (d, E), "experts": [expert, ...]}`` instead
    of ``"mlp"``. All tensors are float32 leaves with ``requires_grad=True``.
    """
    g = torch.Generator().manual_seed(seed)

    def normal(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    def ln():
        return {"gamma": torch.ones(d), "beta": torch.zeros(d)}

    proj_std = 0.02 / math.sqrt(2 * n_layers)  # GPT-2: residual projections scaled down by depth
    blocks = []
    for _ in range(n_layers):
        attn = {
            "W_qkv": normal(d, 3 * d),
            "b_qkv": torch.zeros(3 * d),
            "W_o": normal(d, d, std=proj_std),
            "b_o": torch.zeros(d),
        }
        block = {"ln1": ln(), "attn": attn, "ln2": ln()}
        if moe:
            experts = [
                {
                    "W1": normal(d, d_ff),
                    "b1": torch.zeros(d_ff),
                    "W2": normal(d_ff, d, std=proj_std),
                    "b2": torch.zeros(d),
                }
                for _ in range(n_experts)
            ]
            W_gate = normal(d, n_experts, std=gate_std)
            if router_skew:  # an unlucky start: a direction shared by every token points to expert 0
                u = normal(d, std=1.0)
                u = u / u.norm()
                block["ln2"]["beta"] = u.clone()
                W_gate[:, 0] += router_skew * u
            block["moe"] = {"W_gate": W_gate, "experts": experts}
        else:
            block["mlp"] = {
                "W_fc": normal(d, d_ff),
                "b_fc": torch.zeros(d_ff),
                "W_proj": normal(d_ff, d, std=proj_std),
                "b_proj": torch.zeros(d),
            }
        blocks.append(block)
    params = {"wte": normal(N_VOCAB, d), "wpe": normal(T_max, d), "blocks": blocks, "ln_f": ln()}
    for p in tensors(params):
        p.requires_grad_(True)
    return params


def tensors(tree):
    """Every tensor in a nested dict/list of parameters (in a fixed order)."""
    if isinstance(tree, torch.Tensor):
        return [tree]
    items = tree.values() if isinstance(tree, dict) else tree
    return [t for item in items for t in tensors(item)]


def detached(tree):
    """A copy of a nested dict/list of tensors without gradients (plain data to return)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: detached(v) for k, v in tree.items()}
    return [detached(v) for v in tree]


def is_moe(params):
    return "moe" in params["blocks"][0]


def moe_gpt_forward(ids, params, n_heads, k=1):
    """``gpt_forward`` with a Mixture-of-Experts feed-forward in every block (your ``moe_layer``).

    Returns:
        ``(logits (B, T, V), aux_loss, load)``: ``aux_loss`` = mean over blocks of your
        ``load_balancing_loss``; ``load (E,)`` = share of the token→expert assignments each expert
        received, averaged over blocks.
    """
    B, T = ids.shape
    h = params["wte"][ids] + params["wpe"][:T]  # (B, T, d)
    aux, load = 0.0, 0.0
    for block in params["blocks"]:
        h = h + gpt.causal_self_attention(gpt.ln(h, block["ln1"]), block["attn"], n_heads)
        x = gpt.ln(h, block["ln2"]).reshape(B * T, -1)  # (N, d): every token is routed on its own
        W_gate, experts = block["moe"]["W_gate"], block["moe"]["experts"]
        y, router_probs, indices = gpt.moe_layer(x, W_gate, experts, k)
        h = h + y.reshape(B, T, -1)
        aux = aux + gpt.load_balancing_loss(router_probs, indices, len(experts))
        load = load + torch.bincount(indices.flatten(), minlength=len(experts)).float() / indices.numel()
    n = len(params["blocks"])
    logits = gpt.ln(h, params["ln_f"]) @ params["wte"].T  # (B, T, V), tied embedding
    return logits, aux / n, load / n


def forward(ids, params, n_heads=N_HEADS, k=1):
    """Logits of either model: ``gpt.gpt_forward`` for a dense GPT, ``moe_gpt_forward`` for MoE."""
    if is_moe(params):
        return moe_gpt_forward(ids, params, n_heads, k)[0]
    return gpt.gpt_forward(ids, params, n_heads)


# --- training and evaluation -----------------------------------------------------------------


def train_sort_gpt(
    seed=0,
    steps=200,
    batch_size=64,
    lr=3e-3,
    n_digits=N_DIGITS,
    n_layers=2,
    d=64,
    d_ff=256,
    moe=False,
    n_experts=4,
    k=1,
    aux_weight=0.01,
    gate_std=0.02,
    router_skew=0.0,
):
    """Train a tiny GPT (or its MoE twin) to sort ``n_digits`` digits (~5 s on one CPU core).

    ``gate_std`` is the spread of the initial router weights; ``router_skew > 0`` starts every
    router biased towards expert 0 (see the module docstring).

    Adam, a learning rate that warms up for 30 steps then decays to a tenth (cosine), gradient
    clipping at 1, a fresh random batch every step. One thread; the caller's settings are restored.

    Returns:
        dict: ``"params"`` (trained, detached), ``"losses"`` (the sorting loss per step),
        ``"seconds"``, ``"config"`` and, for ``moe=True``, ``"aux_losses"`` (per step) and
        ``"expert_load"`` (list of ``E`` shares of the assignments on held-out data, averaged over
        blocks; uniform = ``1/E`` each).
    """
    config = dict(
        seed=seed, steps=steps, batch_size=batch_size, lr=lr, n_digits=n_digits, n_layers=n_layers, d=d,
        d_ff=d_ff, moe=moe, n_experts=n_experts, k=k, aux_weight=aux_weight, gate_std=gate_std, router_skew=router_skew,
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        params = init_params(n_layers, d, d_ff, 2 * n_digits, moe, n_experts, gate_std, router_skew, seed=seed)
        opt = torch.optim.Adam(tensors(params), lr=lr)
        g = torch.Generator().manual_seed(seed + 1)
        losses, aux_losses = [], []
        for step in range(steps):
            warm = min(1.0, (step + 1) / 30)
            decay = 0.1 + 0.45 * (1 + math.cos(math.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr * warm * decay
            seq = _sort_batch(batch_size, n_digits, g)  # (B, 2n + 1)
            ids, targets = seq[:, :-1], seq[:, 1:]  # position t predicts token t + 1
            if moe:
                logits, aux, _ = moe_gpt_forward(ids, params, N_HEADS, k)
            else:
                logits, aux = gpt.gpt_forward(ids, params, N_HEADS), torch.zeros(())
            # only the sorted half is learned: positions n .. 2n-1 predict it
            loss = torch.nn.functional.cross_entropy(
                logits[:, n_digits:].flatten(0, 1), targets[:, n_digits:].flatten()
            )
            opt.zero_grad()
            (loss + aux_weight * aux).backward()
            torch.nn.utils.clip_grad_norm_(tensors(params), 1.0)
            opt.step()
            losses.append(loss.item())
            aux_losses.append(float(aux.detach()))
        result = {
            "params": detached(params),
            "losses": losses,
            "seconds": time.perf_counter() - start,
            "config": config,
        }
        if moe:
            with torch.no_grad():
                held_out = make_sort_data(512, n_digits, seed=seed + 2000)[:, :-1]
                _, _, load = moe_gpt_forward(held_out, result["params"], N_HEADS, k)
            result["aux_losses"] = aux_losses
            result["expert_load"] = load.tolist()
    finally:
        torch.set_num_threads(threads)
    return result


def greedy_sort(params, prompts, k=1):
    """Greedy decoding of a batch: ``prompts (B, n + 1)`` = digits and ``SEP`` -> ``(B, n)`` ids.

    For a dense GPT this gives the same ids as your ``gpt.generate`` (temperature 0) run on each
    prompt alone, but all sequences at once.
    """
    ids = torch.as_tensor(prompts, dtype=torch.int64)
    n = ids.shape[1] - 1
    with torch.no_grad():
        for _ in range(n):
            logits = forward(ids, params, N_HEADS, k)[:, -1]  # (B, V)
            ids = torch.cat([ids, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return ids[:, n + 1 :]


def sort_accuracy(params, n=1000, seed=12345, k=1):
    """Share of ``n`` fresh sequences (from ``seed``) that greedy decoding sorts exactly."""
    n_digits = params["wpe"].shape[0] // 2
    seq = make_sort_data(n, n_digits, seed=seed)
    out = greedy_sort(params, seq[:, : n_digits + 1], k)
    return (out == seq[:, n_digits + 1 :]).all(dim=1).float().mean().item()


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
