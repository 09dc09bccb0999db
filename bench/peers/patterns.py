"""The bundled patterns of the benchmark suite, as FlexAttention functions.

Each pattern is written from its patterns/<name>.pattern file and docs/DSL.md:

- queries are aligned to the end of the keys, q = i + Nk - Nq (DSL.md 9.2);
  `causal;` keeps j <= q;
- `%` and integer `/` are floor modulo and floor division (DSL.md 5), which is
  what `%` and `//` do on Python ints, numpy arrays and torch tensors;
- the logit is scale * (q . k) + bias, then the score rewrite (DSL.md 9.3):
  FlexAttention passes its score_mod the scaled dot product (scale 1/sqrt(D)
  by default, as attnc's), so a bias is added there unscaled.

The functions use only operators (&, |, ==, <, <=, %, //, +, -, *) and the
`ops` given to the factories, so that the same code runs on torch tensors
(FlexAttention's mask_mod(b, h, q_idx, kv_idx) and score_mod(score, b, h,
q_idx, kv_idx)) and on numpy arrays (tests/check_peer_masks.py compares them
with `attnc show`).
"""
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple


@dataclass(frozen=True)
class PeerPattern:
    """A pattern for the peers.

    mask(params, tensors, Nq, Nk) -> mask_mod(b, h, i, j)
    score(params, tensors, H, Nq, Nk, ops) -> score_mod(score, b, h, i, j) or None
    per_head: whether the mask depends on h (else create_block_mask gets H=None).
    tensors: names of the tensor parameters (taken from the attnc-bench listing).
    sdpa: how SDPA can run it: "causal" (is_causal=True), "bias" (an additive
    float bias, built by bias_matrix) or None.
    """
    name: str
    mask: Callable
    score: Optional[Callable] = None
    per_head: bool = False
    tensors: Tuple[str, ...] = ()
    sdpa: Optional[str] = None


def _causal(i, j, Nq, Nk):
    return j <= i + (Nk - Nq)


def _causal_mask(params, tensors, Nq, Nk):
    def mask_mod(b, h, i, j):
        return _causal(i, j, Nq, Nk)
    return mask_mod


def _sliding_window_mask(params, tensors, Nq, Nk):
    window = int(params["window"])

    def mask_mod(b, h, i, j):
        q = i + (Nk - Nq)
        return (j <= q) & (q - j < window)
    return mask_mod


def _document_mask(params, tensors, Nq, Nk):
    doc = tensors["doc"]

    def mask_mod(b, h, i, j):
        q = i + (Nk - Nq)
        return (j <= q) & (doc[q] == doc[j])
    return mask_mod


def _prefix_lm_mask(params, tensors, Nq, Nk):
    prefix = int(params["prefix"])

    def mask_mod(b, h, i, j):
        return (j < prefix) | (j <= i + (Nk - Nq))
    return mask_mod


def _strided_sets(stride, i, j, Nq, Nk):
    q = i + (Nk - Nq)
    return q - j < stride, (q - j) % stride == 0


def _strided_mask(params, tensors, Nq, Nk):
    stride = int(params["stride"])

    def mask_mod(b, h, i, j):
        local, strided = _strided_sets(stride, i, j, Nq, Nk)
        # heads = [local, strided]: head h uses the set h % 2.
        return _causal(i, j, Nq, Nk) & (((h % 2 == 0) & local) | ((h % 2 == 1) & strided))
    return mask_mod


def _strided_merged_mask(params, tensors, Nq, Nk):
    stride = int(params["stride"])

    def mask_mod(b, h, i, j):
        local, strided = _strided_sets(stride, i, j, Nq, Nk)
        return _causal(i, j, Nq, Nk) & (local | strided)
    return mask_mod


def _fixed_mask(params, tensors, Nq, Nk):
    stride, c = int(params["stride"]), int(params["c"])

    def mask_mod(b, h, i, j):
        q = i + (Nk - Nq)
        own_block = q // stride == j // stride
        summary = j % stride >= stride - c
        return (j <= q) & (own_block | summary)
    return mask_mod


def alibi_slopes(n):
    """alibi_slope(h, n) for h < n (DSL.md 11), as doubles: the paper's
    get_slopes(n) with the same floating-point operations."""
    def power_of_2(m):
        start = 2 ** (-2 ** -(math.log2(m) - 3))
        return [start * start ** k for k in range(m)]
    if n & (n - 1) == 0:
        return power_of_2(n)
    p = 2 ** math.floor(math.log2(n))
    return power_of_2(p) + power_of_2(2 * p)[0::2][: n - p]


def _alibi_score(params, tensors, H, Nq, Nk, ops):
    # bias = -alibi_slope(h, H) * (q - j), in float32 as attnc computes it.
    neg_slopes = ops.array([-s for s in alibi_slopes(H)], "float32")

    def score_mod(score, b, h, i, j):
        return score + neg_slopes[h] * (i + (Nk - Nq) - j)
    return score_mod


def _softcap_score(params, tensors, H, Nq, Nk, ops):
    cap = float(params["cap"])

    def score_mod(score, b, h, i, j):
        return cap * ops.tanh(score / cap)
    return score_mod


PATTERNS: Dict[str, PeerPattern] = {p.name: p for p in [
    PeerPattern("causal", _causal_mask, sdpa="causal"),
    PeerPattern("sliding_window", _sliding_window_mask),
    PeerPattern("alibi", _causal_mask, score=_alibi_score, sdpa="bias"),
    PeerPattern("document", _document_mask, tensors=("doc",)),
    PeerPattern("prefix_lm", _prefix_lm_mask),
    PeerPattern("softcap", _causal_mask, score=_softcap_score),
    PeerPattern("strided", _strided_mask, per_head=True),
    PeerPattern("strided_merged", _strided_merged_mask),
    PeerPattern("fixed", _fixed_mask),
]}

# Why SDPA cannot run a pattern that has no "sdpa" entry, by pattern.
SDPA_UNSUPPORTED = {
    "sliding_window": "SDPA takes no window: only is_causal or a dense attn_mask "
                      "(a dense [N, N] mask is not this backend's fast path)",
    "document": "needs a per-pair mask; SDPA takes only is_causal or a dense attn_mask",
    "prefix_lm": "needs a per-pair mask; SDPA takes only is_causal or a dense attn_mask",
    "softcap": "SDPA has no score rewrite (tanh soft-capping)",
    "strided": "needs a per-head sparse mask; SDPA takes only is_causal or a dense attn_mask",
    "strided_merged": "needs a sparse mask; SDPA takes only is_causal or a dense attn_mask",
    "fixed": "needs a sparse mask; SDPA takes only is_causal or a dense attn_mask",
}


class NumpyOps:
    """The ops the score factories need, on numpy arrays."""
    def __init__(self):
        import numpy
        self.np = numpy

    def array(self, values, dtype):
        return self.np.asarray(values, dtype=dtype)

    def tanh(self, x):
        return self.np.tanh(x)


def numpy_mask(pattern, params, tensors, H, Nq, Nk):
    """The connectivity as a numpy bool array [H, Nq, Nk], through mask_mod."""
    import numpy as np
    mask_mod = pattern.mask(params, tensors, Nq, Nk)
    i = np.arange(Nq, dtype=np.int64)[:, None]
    j = np.arange(Nk, dtype=np.int64)[None, :]
    out = np.zeros((H, Nq, Nk), dtype=bool)
    for h in range(H):
        out[h] = np.broadcast_to(mask_mod(0, np.int64(h), i, j), (Nq, Nk))
    return out


def numpy_scores(pattern, params, tensors, H, Nq, Nk, scaled):
    """score_mod applied to scaled [H, Nq, Nk] float32 logits (identity without one)."""
    import numpy as np
    if pattern.score is None:
        return scaled
    score_mod = pattern.score(params, tensors, H, Nq, Nk, NumpyOps())
    i = np.arange(Nq, dtype=np.int64)[:, None]
    j = np.arange(Nk, dtype=np.int64)[None, :]
    return np.stack([score_mod(scaled[h], 0, h, i, j) for h in range(H)]).astype(np.float32)


def case_args(case):
    """(pattern, params) of a listing case, with an error for an unknown pattern."""
    name = case["pattern"]
    if name not in PATTERNS:
        raise KeyError(f"pattern '{name}' has no FlexAttention version in bench/peers/patterns.py")
    return PATTERNS[name], dict(case.get("params") or {})
