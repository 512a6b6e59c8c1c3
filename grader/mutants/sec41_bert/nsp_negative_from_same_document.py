"""make_nsp_pairs takes the negative sentence b from the SAME document (any sentence but the next
one) instead of from a different document."""

BREAKS = "make_nsp_pairs"


def make_nsp_pairs(documents, seed=0):
    if len(documents) < 2:
        raise ValueError("documents must hold at least 2 documents")
    rng = np.random.default_rng(seed)  # noqa: F821
    pairs = []
    for doc in documents:
        for j in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append((doc[j], doc[j + 1], True))
            else:
                k = int(rng.integers(len(doc) - 1))
                k += k >= j + 1  # anything but the true next sentence
                pairs.append((doc[j], doc[k], False))
    return pairs
