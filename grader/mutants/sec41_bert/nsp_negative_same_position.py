"""make_nsp_pairs takes a negative b at a's own position in the other document (the last sentence when
that document is shorter) instead of a random sentence of it."""

BREAKS = "make_nsp_pairs"


def make_nsp_pairs(documents, seed=0):
    if not isinstance(documents, (list, tuple)) or len(documents) < 2:
        raise ValueError("documents must be a list of at least 2 documents")
    if any(len(doc) == 0 for doc in documents):
        raise ValueError("documents must hold non-empty lists of sentences")
    rng = np.random.default_rng(seed)  # noqa: F821
    pairs = []
    for i, doc in enumerate(documents):
        for j in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[j], doc[j + 1], True))
            else:
                other = int(rng.integers(len(documents) - 1))
                other += other >= i
                pairs.append((doc[j], documents[other][min(j, len(documents[other]) - 1)], False))
    return pairs
