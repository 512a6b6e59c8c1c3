"""generate creates ``torch.Generator().manual_seed(seed)`` anew at every step — the same seed each time,
not ``seed + i``: every step repeats the first step's random draw, so the sampled ids are not
independent draws."""

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
    new = []
    with torch.no_grad():
        for _ in range(n_new):
            logits = gpt_forward(torch.tensor([ids[-T_max:]]), params, n_heads)[0, -1]  # noqa: F821
            if temperature == 0:
                next_id = int(torch.argmax(logits))
            else:
                probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k), dim=-1)  # noqa: F821
                next_id = int(torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(seed)))
            ids.append(next_id)
            new.append(next_id)
    return torch.tensor(new, dtype=torch.long)
