"""generate samples with torch's global random state instead of a generator seeded with `seed`:
the same call gives different ids each time."""

import torch

BREAKS = "generate"


def generate(prompt, params, n_heads, n_new, temperature=0.0, top_k=None, seed=0):
    ids = [int(i) for i in torch.as_tensor(prompt).reshape(-1).tolist()]
    if not ids or n_new < 0 or temperature < 0:
        raise ValueError("bad prompt, n_new or temperature")
    T_max = params["wpe"].shape[0]
    new = []
    with torch.no_grad():
        for _ in range(n_new):
            logits = gpt_forward(torch.tensor([ids[-T_max:]]), params, n_heads)[0, -1]  # noqa: F821
            if temperature == 0:
                next_id = int(torch.argmax(logits))
            else:
                probs = torch.softmax(filter_logits(logits / temperature, top_k=top_k), dim=-1)  # noqa: F821
                next_id = int(torch.multinomial(probs, 1))
            ids.append(next_id)
            new.append(next_id)
    return torch.tensor(new, dtype=torch.long)
