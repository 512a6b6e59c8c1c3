"""§37 given code: a character-level RNN language model learns a poem, and your ``rnn_generate``
writes it back (fig 37-5).

Nothing here is an exercise. Run it once your ``rnn_step``, ``sample_next_token`` and
``rnn_generate`` pass their tests::

    import char_lm
    lm = char_lm.train_char_lm(seed=0)                 # ~5 s on one CPU core
    char_lm.generate_text(lm, "雨ニモ", 40)              # greedy: the poem, continued by your code
    char_lm.generate_text(lm, "東ニ", 40, temperature=0.8, seed=1)   # sampled

The text is 宮沢賢治「雨ニモマケズ」 (Miyazawa Kenji, 1896–1933; public domain), one line of the
poem per line of ``ame_ni_mo_makezu.txt`` next to this file. Every character (kana, kanji, the
line break) is one token.

The model is exactly the one of ``rnn_generate``: ``h_t = tanh(E[x_t] W_x + h_{t-1} W_h + b)``,
``logits = h_t W_out + b_out``. It is trained in PyTorch (``torch.nn.RNN`` computes the same
recurrence, with ``W_x = weight_ih.T``, ``W_h = weight_hh.T``, ``b = bias_ih + bias_hh``) on random
windows of the text, each read from ``h = 0`` as generation does; the trained weights are then
handed to your NumPy ``rnn_generate`` as plain arrays. Seeded and single-threaded: the same call
gives the same model everywhere.
"""

import time
from pathlib import Path

import numpy as np
import rnn  # your §37 module, in the same folder
import torch
from torch import nn

TEXT_FILE = Path(__file__).with_name("ame_ni_mo_makezu.txt")


def load_text():
    """The training text (a str)."""
    return TEXT_FILE.read_text(encoding="utf-8")


def build_vocab(text):
    """``chars`` (sorted list of the distinct characters): id ``i`` is ``chars[i]``."""
    return sorted(set(text))


def encode(text, chars):
    index = {c: i for i, c in enumerate(chars)}
    return [index[c] for c in text]


def decode(ids, chars):
    return "".join(chars[i] for i in ids)


class CharRNN(nn.Module):
    """Embedding -> tanh RNN -> linear layer to the vocabulary."""

    def __init__(self, n_vocab, d_embed, d_hidden):
        super().__init__()
        self.embed = nn.Embedding(n_vocab, d_embed)
        self.rnn = nn.RNN(d_embed, d_hidden, nonlinearity="tanh", batch_first=True)
        self.out = nn.Linear(d_hidden, n_vocab)

    def forward(self, ids):
        """``ids (B, T)`` -> logits ``(B, T, V)``; position t predicts token t + 1 (from ``h = 0``)."""
        hs, _ = self.rnn(self.embed(ids))
        return self.out(hs)

    def numpy_params(self):
        """The weights in the layout of ``rnn_generate`` (float64 NumPy arrays)."""
        r = self.rnn
        params = {
            "E": self.embed.weight,
            "W_x": r.weight_ih_l0.T,
            "W_h": r.weight_hh_l0.T,
            "b": r.bias_ih_l0 + r.bias_hh_l0,
            "W_out": self.out.weight.T,
            "b_out": self.out.bias,
        }
        return {k: v.detach().double().numpy().copy() for k, v in params.items()}


def train_char_lm(seed=0, steps=400, batch_size=32, seq_len=48, d_embed=32, d_hidden=128, lr=5e-3):
    """Train the character RNN on the poem.

    Each step takes ``batch_size`` random windows of ``seq_len + 1`` characters (the text wraps
    around), reads them from ``h = 0`` and minimises the cross-entropy of every next character;
    Adam with gradient clipping and a learning rate decaying linearly to a tenth.

    Returns:
        dict: ``"params"`` (float64 NumPy arrays for ``rnn.rnn_generate``), ``"chars"`` (the
        vocabulary), ``"losses"`` (per step), ``"seconds"``.
    """
    text = load_text()
    chars = build_vocab(text)
    data = torch.tensor(encode(text, chars))
    threads = torch.get_num_threads()
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.set_num_threads(1)
        try:
            torch.manual_seed(seed)  # initial weights
            g = torch.Generator().manual_seed(seed + 1)  # windows
            model = CharRNN(len(chars), d_embed, d_hidden)
            opt = torch.optim.Adam(model.parameters(), lr=lr)
            offsets = torch.arange(seq_len + 1)
            losses = []
            for step in range(steps):
                for group in opt.param_groups:
                    group["lr"] = lr * (1.0 - 0.9 * step / steps)
                starts = torch.randint(0, len(data), (batch_size, 1), generator=g)
                window = data[(starts + offsets) % len(data)]  # (B, seq_len + 1)
                logits = model(window[:, :-1])
                loss = nn.functional.cross_entropy(logits.flatten(0, 1), window[:, 1:].flatten())
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                losses.append(loss.item())
        finally:
            torch.set_num_threads(threads)
    return {"params": model.numpy_params(), "chars": chars, "losses": losses, "seconds": time.perf_counter() - start}


def generate_text(lm, prompt, n_new, temperature=0.0, seed=0):
    """``prompt`` (a str of characters of the poem) continued by ``n_new`` characters from your
    ``rnn.rnn_generate`` with the trained weights (greedy at temperature 0)."""
    ids = rnn.rnn_generate(encode(prompt, lm["chars"]), n_new, lm["params"], temperature=temperature, seed=seed)
    return prompt + decode(ids, lm["chars"])


def next_char_accuracy(lm, text=None):
    """Share of characters of ``text`` (default: the poem) predicted right (argmax), each line
    read from ``h = 0`` after its first character — how well the poem was learned."""
    p = lm["params"]
    index = {c: i for i, c in enumerate(lm["chars"])}
    right = total = 0
    for line in (text or load_text()).splitlines(keepends=True):
        h = np.zeros(p["W_h"].shape[0])
        for a, b in zip(line, line[1:]):
            h = np.tanh(p["E"][index[a]] @ p["W_x"] + h @ p["W_h"] + p["b"])
            right += int(np.argmax(h @ p["W_out"] + p["b_out"]) == index[b])
            total += 1
    return right / total


def line_completion_accuracy(lm, prompt_len=2):
    """Share of the poem's lines that your greedy ``rnn_generate`` completes exactly (line break
    included) from their first ``prompt_len`` characters."""
    lines = [line for line in load_text().splitlines(keepends=True) if len(line) > prompt_len]
    done = [generate_text(lm, line[:prompt_len], len(line) - prompt_len) == line for line in lines]
    return sum(done) / len(done)
