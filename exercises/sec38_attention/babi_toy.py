"""A toy bAbI-like task and a one-hop memory network trained on it (PyTorch) — for the notebooks.

The task is bAbI task 1 ("single supporting fact") in miniature. A story is a few sentences such as
"mary went to the kitchen", "john moved to the garden", ...; the question "where is mary" is
answered by the **last** sentence about mary (the supporting sentence). To answer, the network has
to *attend* to the right sentence: the words must match (mary in the question and in the sentence)
and among the matching sentences the most recent must win — which only the temporal encodings
``T_A``, ``T_C`` (one vector per sentence position) can tell.

The model is exactly the one of ``memnet_answer`` in ``attention.py``::

    m_i = sum_w A[w] + T_A[i]     c_i = sum_w C[w] + T_C[i]     u = sum_w B[w]
    p = softmax(m · u)            logits = (sum_i p_i c_i + u) W_out

so ``to_numpy_params(model)`` can be fed to your ``memnet_answer`` to check it against the trained
network. Typical use in a notebook::

    from babi_toy import make_stories, train_memnet, to_numpy_params, decode
    result = train_memnet(seed=0)            # a few seconds on a laptop
    print(result["accuracy"], result["support_hit"])
    data = result["test"]
    logits, p = attention.memnet_answer(data["story"], data["question"], to_numpy_params(result["model"]))

Not graded; everything is seeded, so the same seed gives the same stories and the same network.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

PEOPLE = ["mary", "john", "sandra", "daniel", "kenji", "yuki"]
PLACES = ["kitchen", "garden", "office", "bathroom", "hallway", "bedroom"]
VERBS = ["went", "moved", "journeyed", "travelled"]
VOCAB = ["<pad>", "to", "the", "where", "is", *PEOPLE, *VERBS, *PLACES]
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
SENTENCE_WORDS = 5  # person verb to the place
QUESTION_WORDS = 3  # where is person


def make_stories(n, n_sentences=6, seed=0):
    """``n`` random stories of ``n_sentences`` sentences, each with one question.

    Returns a dict of int64 arrays: ``story (n, N, 5)``, ``question (n, 3)``, ``answer (n,)`` (the id
    of the place), ``support (n,)`` (index of the supporting sentence: the last one about the person
    asked about).
    """
    rng = np.random.default_rng(seed)
    person_ids = np.array([WORD_ID[w] for w in PEOPLE])
    place_ids = np.array([WORD_ID[w] for w in PLACES])
    verb_ids = np.array([WORD_ID[w] for w in VERBS])
    people = person_ids[rng.integers(len(PEOPLE), size=(n, n_sentences))]  # (n, N) who moves
    places = place_ids[rng.integers(len(PLACES), size=(n, n_sentences))]  # (n, N) where to
    verbs = verb_ids[rng.integers(len(VERBS), size=(n, n_sentences))]
    to, the = np.full((n, n_sentences), WORD_ID["to"]), np.full((n, n_sentences), WORD_ID["the"])
    story = np.stack([people, verbs, to, the, places], axis=-1).astype(np.int64)  # (n, N, 5)
    rows = np.arange(n)
    asked = people[rows, rng.integers(n_sentences, size=n)]  # someone who appears in the story
    positions = np.where(people == asked[:, None], np.arange(n_sentences), -1)
    support = positions.max(axis=1).astype(np.int64)  # the last sentence about that person
    answer = places[rows, support].astype(np.int64)
    question = np.stack([np.full(n, WORD_ID["where"]), np.full(n, WORD_ID["is"]), asked], axis=-1).astype(np.int64)
    return {"story": story, "question": question, "answer": answer, "support": support}


def decode(ids):
    """Words of a sentence or question (padding dropped)."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) != 0)


class MemN2N(nn.Module):
    """One-hop end-to-end memory network with temporal encodings (the model of ``memnet_answer``)."""

    def __init__(self, vocab_size, n_sentences, d, generator):
        super().__init__()

        def init(*shape):
            return nn.Parameter(0.1 * torch.randn(*shape, generator=generator))

        self.A, self.B, self.C = init(vocab_size, d), init(vocab_size, d), init(vocab_size, d)
        self.T_A, self.T_C = init(n_sentences, d), init(n_sentences, d)
        self.W_out = init(d, vocab_size)  # (in, out) layout, as in the exercises

    @staticmethod
    def bag_of_words(ids, E):
        counts = nn.functional.one_hot(ids, E.shape[0]).sum(dim=-2).to(E.dtype)  # (..., V) word counts
        counts[..., 0] = 0  # pad id 0 is not counted
        return counts @ E  # (..., d): the sum of the embeddings (a matmul: fast to train)

    def forward(self, story, question):
        m = self.bag_of_words(story, self.A) + self.T_A  # (B, N, d) memories
        c = self.bag_of_words(story, self.C) + self.T_C  # (B, N, d) output memories
        u = self.bag_of_words(question, self.B)  # (B, d) question
        p = torch.softmax(torch.einsum("bnd,bd->bn", m, u), dim=-1)  # (B, N) attention
        o = torch.einsum("bn,bnd->bd", p, c)  # (B, d)
        return (o + u) @ self.W_out, p  # (B, V), (B, N)


def to_numpy_params(model):
    """The trained weights as the ``params`` dict of ``memnet_answer`` (float64 NumPy arrays)."""
    return {k: getattr(model, k).detach().double().numpy().copy() for k in ("A", "B", "C", "T_A", "T_C", "W_out")}


def evaluate(model, data):
    """(accuracy, share of questions whose largest attention weight is on the supporting sentence)."""
    with torch.no_grad():
        logits, p = model(torch.from_numpy(data["story"]), torch.from_numpy(data["question"]))
    accuracy = (logits.argmax(-1).numpy() == data["answer"]).mean()
    support_hit = (p.argmax(-1).numpy() == data["support"]).mean()
    return float(accuracy), float(support_hit)


def train_memnet(seed=0, n_train=2000, n_test=1000, n_sentences=6, d=32, epochs=8, batch_size=64, lr=0.02):
    """Train a one-hop memory network on toy stories.

    Returns a dict: ``model`` (the trained ``MemN2N``), ``accuracy`` and ``support_hit`` on held-out
    stories (see ``evaluate``), ``seconds`` (training time), ``test`` (the held-out data).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tensors are tiny: extra threads only wait for each other
    try:
        return _train(seed, n_train, n_test, n_sentences, d, epochs, batch_size, lr)
    finally:
        torch.set_num_threads(threads)


def _train(seed, n_train, n_test, n_sentences, d, epochs, batch_size, lr):
    start = time.perf_counter()
    train = make_stories(n_train, n_sentences, seed=seed)
    test = make_stories(n_test, n_sentences, seed=seed + 1_000_003)
    generator = torch.Generator().manual_seed(seed)
    model = MemN2N(len(VOCAB), n_sentences, d, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    story, question, answer = (torch.from_numpy(train[k]) for k in ("story", "question", "answer"))
    order_rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = torch.from_numpy(order_rng.permutation(n_train))
        for i in range(0, n_train, batch_size):
            idx = order[i : i + batch_size]
            logits, _ = model(story[idx], question[idx])
            loss = nn.functional.cross_entropy(logits, answer[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    accuracy, support_hit = evaluate(model, test)
    return {"model": model, "accuracy": accuracy, "support_hit": support_hit, "seconds": seconds, "test": test}


if __name__ == "__main__":
    result = train_memnet()
    data = result["test"]
    print(f"accuracy {result['accuracy']:.3f}, attention on the supporting sentence {result['support_hit']:.3f}, "
          f"trained in {result['seconds']:.1f} s")  # fmt: skip
    for i in range(len(data["story"][0])):
        print(f"  {i}: {decode(data['story'][0, i])}")
    print(f"  Q: {decode(data['question'][0])}?  A: {VOCAB[data['answer'][0]]}")
