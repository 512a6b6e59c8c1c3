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
VOCAB = ["<pad>", "to", "the", "where", "is", *PEOPLE, *VERBS, *PLACES, "read", "book"]
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
SENTENCE_WORDS = 5  # person verb to the place  (or: person read the book <pad>)
QUESTION_WORDS = 3  # where is person

# Japanese for the notebooks (fig 38-1 tells its story in Japanese)
JA = {
    "mary": "メアリー", "john": "ジョン", "sandra": "サンドラ", "daniel": "ダニエル", "kenji": "ケンジ", "yuki": "ユキ",
    "kitchen": "台所", "garden": "庭", "office": "事務所", "bathroom": "浴室", "hallway": "廊下", "bedroom": "寝室",
    "went": "行った", "moved": "移動した", "journeyed": "旅した", "travelled": "向かった",
}  # fmt: skip


def make_stories(n, n_sentences=6, seed=0, min_sentences=None, p_distractor=0.2):
    """``n`` random stories of ``min_sentences`` to ``n_sentences`` sentences, each with one question.

    A sentence is a move ("mary went to the kitchen") or, with probability ``p_distractor``, a
    distractor that moves nobody ("john read the book"). A shorter story sits at the end of its
    ``n_sentences`` rows, after empty rows (all padding), so that the last sentence is always in the
    last row. The question asks about someone who moves in the story.

    Returns a dict of int64 arrays: ``story (n, N, 5)``, ``question (n, 3)``, ``answer (n,)`` (the id
    of the place), ``support (n,)`` (row of the supporting sentence: the last move of the person
    asked about).
    """
    rng = np.random.default_rng(seed)
    min_sentences = n_sentences if min_sentences is None else min_sentences
    story = np.zeros((n, n_sentences, SENTENCE_WORDS), dtype=np.int64)
    question = np.zeros((n, QUESTION_WORDS), dtype=np.int64)
    answer, support = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for b in range(n):
        length = int(rng.integers(min_sentences, n_sentences + 1))
        rows = range(n_sentences - length, n_sentences)
        moves = {}  # row -> (person, place)
        for r in rows:
            person = WORD_ID[PEOPLE[rng.integers(len(PEOPLE))]]
            if rng.random() < p_distractor and (moves or r < n_sentences - 1):
                story[b, r] = [person, WORD_ID["read"], WORD_ID["the"], WORD_ID["book"], 0]
            else:
                place = WORD_ID[PLACES[rng.integers(len(PLACES))]]
                verb = WORD_ID[VERBS[rng.integers(len(VERBS))]]
                story[b, r] = [person, verb, WORD_ID["to"], WORD_ID["the"], place]
                moves[r] = (person, place)
        asked = moves[list(moves)[rng.integers(len(moves))]][0]  # someone who moves in the story
        support[b] = max(r for r, (person, _) in moves.items() if person == asked)
        answer[b] = moves[support[b]][1]
        question[b] = [WORD_ID["where"], WORD_ID["is"], asked]
    return {"story": story, "question": question, "answer": answer, "support": support}


def figure_story(n_sentences=6):
    """The story and question of fig 38-1 in the toy's words: ``(story (1, N, 5), question (1, 3))``.

    メアリーは寝室に行った。ジョンは庭に行った。メアリーは台所に移動した。ジョンは本を読んだ。 —
    メアリーはどこ？ (answer: 台所, supporting sentence: the third).
    """
    sentences = [
        "mary went to the bedroom",
        "john went to the garden",
        "mary moved to the kitchen",
        "john read the book",
    ]
    story = np.zeros((1, n_sentences, SENTENCE_WORDS), dtype=np.int64)
    for r, sentence in enumerate(sentences, start=n_sentences - len(sentences)):
        ids = [WORD_ID[w] for w in sentence.split()]
        story[0, r, : len(ids)] = ids
    question = np.array([[WORD_ID["where"], WORD_ID["is"], WORD_ID["mary"]]], dtype=np.int64)
    return story, question


def decode(ids):
    """Words of a sentence or question (padding dropped)."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) != 0)


def decode_ja(ids):
    """A sentence, a question or an answer in Japanese ("" for an empty row)."""
    words = [VOCAB[int(i)] for i in np.atleast_1d(ids) if int(i) != 0]
    if not words:
        return ""
    if len(words) == 1:
        return JA.get(words[0], words[0])
    if words[0] == "where":
        return f"{JA[words[2]]}はどこ？"
    if words[1] == "read":
        return f"{JA[words[0]]}は本を読んだ。"
    return f"{JA[words[0]]}は{JA[words[4]]}に{JA[words[1]]}。"


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


def train_memnet(seed=0, n_train=2000, n_test=1000, n_sentences=6, d=32, epochs=4, batch_size=64, lr=0.02):
    """Train a one-hop memory network on toy stories (of 2 to ``n_sentences`` sentences, with distractors).

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
    train = make_stories(n_train, n_sentences, seed=seed, min_sentences=2)
    test = make_stories(n_test, n_sentences, seed=seed + 1_000_003, min_sentences=2)
    generator = torch.Generator().manual_seed(seed)
    model = MemN2N(len(VOCAB), n_sentences, d, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    story, question, answer = (torch.from_numpy(train[k]) for k in ("story", "question", "answer"))
    order_rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = torch.from_numpy(order_rng.permutation(n_train))
        for i in range(0, n_train, batch_size):
            idx = order[i : i + batch_size]
            optimizer.zero_grad()
            logits, _ = model(story[idx], question[idx])
            loss = nn.functional.cross_entropy(logits, answer[idx])
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
