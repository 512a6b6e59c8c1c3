"""generate seeds one generator once per call and draws every step from it: the draws are
independent, but step i does not use seed + i (the course's one seeding rule), so a run cannot be
continued or compared step by step with another one."""

import torch

BREAKS = "generate"


def generate(prompt, params, n_heads, n_new, temperature=0.0, top_k=None, seed=0):
    ids = [int(i) for i in torch.as_tensor(prompt).reshape(-1).tolist()]
    if not ids:
        raise ValueError("prompt must not be empty")
    if n_new < 0:
        raise ValueError("n_new must be >= 0")
    if temperature < 0:
        raise ValueError("temperature must be >= 0")
    T_max = params["wpe"].shape[0]
    g = torch.Generator().manual_seed(seed)  # one generator for the whole call
    new = []
    with torch.no_grad():
        for _ in range(n_new):
            logits = gpt_forward(torch.tensor([ids[-T_max:]]), params, n_heads)[0, -1]  # noqa: F821
            if temperature == 0:
                next_id = int(torch.argmax(logits))
            else:
                probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k), dim=-1)  # noqa: F821
                next_id = int(torch.multinomial(probs, 1, generator=g))
            ids.append(next_id)
            new.append(next_id)
    return torch.tensor(new, dtype=torch.long)
