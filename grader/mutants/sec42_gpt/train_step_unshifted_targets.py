"""train_step computes its own cross-entropy of every position against the same position's token
(no shift): the model learns to copy its input instead of predicting the next token."""

import types as _types

import torch

BREAKS = "train_step"


def train_step(params, optimizer, ids, n_heads, pad_id=None, n_prompt=0):
    T = ids.shape[-1]
    if not isinstance(n_prompt, int) or not 0 <= n_prompt < T:
        raise ValueError("n_prompt must be in [0, T)")
    logits = gpt_forward(ids, params, n_heads)  # noqa: F821
    s = max(n_prompt - 1, 0)
    V = logits.shape[-1]
    ignore = -100 if pad_id is None else pad_id
    loss = torch.nn.functional.cross_entropy(logits[:, s:].reshape(-1, V), ids[:, s:].reshape(-1), ignore_index=ignore)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# the given run_train_steps (how the tests call train_step) must call the function above, also when
# this file is loaded next to the reference module rather than appended to it
run_train_steps = _types.FunctionType(
    run_train_steps.__code__,  # noqa: F821
    globals(),
    "run_train_steps",
    run_train_steps.__defaults__,  # noqa: F821
)
