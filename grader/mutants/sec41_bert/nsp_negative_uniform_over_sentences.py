"""make_nsp_pairs draws a negative b uniformly from all sentences of the other documents, so long
documents supply most negatives (the contract: each other document equally likely, then a sentence)."""

BREAKS = "make_nsp_pairs"


def make_nsp_pairs(documents, seed=0):
    if not isinstance(documents, (list, tuple)) or len(documents) < 2:
        raise ValueError("documents must be a list of at least 2 documents")
    if any(len(doc) == 0 for doc in documents):
        raise ValueError("documents must hold non-empty lists of sentences")
    rng = np.random.default_rng(seed)  # noqa: F821
    pairs = []
    for i, doc in enumerate(documents):
        others = [s for o, other in enumerate(documents) if o != i for s in other]
        for j in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[j], doc[j + 1], True))
            else:
                pairs.append((doc[j], others[int(rng.integers(len(others)))], False))
    return pairs
