"""The suite's "documents" fill, for test fixtures made without attnc-bench.

attnc-bench owns the fill (compare_peers.py reads the doc ids it writes with
--list --tensors-dir); this copy of its definition only makes fixtures:
state = seed (uint64); next(): state = state * 6364136223846793005 +
1442695040888963407 mod 2^64, return state >> 33; cuts c = 1 + next() % (N - 1)
until count - 1 distinct ones; sorted; doc[j] = number of cuts <= j.
"""


def documents_fill(n, count, seed):
    state = seed % 2 ** 64

    def draw():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        return state >> 33

    if n < 2 or count < 1 or count > n:
        raise ValueError(f"documents fill: cannot cut {n} positions into {count} documents")
    cuts = set()
    while len(cuts) < count - 1:
        cuts.add(1 + draw() % (n - 1))
    cuts = sorted(cuts)
    doc, k = [], 0
    for j in range(n):
        while k < len(cuts) and cuts[k] <= j:
            k += 1
        doc.append(k)
    return doc
