"""train_step calls optimizer.step() before loss.backward(): every update uses the previous step's
gradients (the first one none at all)."""

import types as _types

BREAKS = "train_step"


def train_step(params, optimizer, ids, n_heads, pad_id=None, n_prompt=0):
    T = ids.shape[-1]
    if not isinstance(n_prompt, int) or not 0 <= n_prompt < T:
        raise ValueError("n_prompt must be in [0, T)")
    logits = gpt_forward(ids, params, n_heads)  # noqa: F821
    s = max(n_prompt - 1, 0)
    loss = lm_loss(logits[:, s:], ids[:, s:], pad_id)  # noqa: F821
    optimizer.zero_grad()
    optimizer.step()
    loss.backward()
    return loss.item()


# the given run_train_steps (how the tests call train_step) must call the function above, also when
# this file is loaded next to the reference module rather than appended to it
run_train_steps = _types.FunctionType(
    run_train_steps.__code__,  # noqa: F821
    globals(),
    "run_train_steps",
    run_train_steps.__defaults__,  # noqa: F821
)
