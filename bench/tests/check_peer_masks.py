#!/usr/bin/env python3
"""Checks bench/peers/patterns.py (the patterns as FlexAttention functions)
against attnc on small sizes, with numpy; no GPU or torch needed.

    bench/tests/check_peer_masks.py --attnc build/bin/attnc [--patterns patterns]

- Connectivity: for every pattern of the benchmark suite, several parameter
  values, square and rectangular (Nq != Nk) shapes and every head, the
  mask_mod evaluated on numpy arrays must equal what `attnc show` (the
  reference interpreter) draws.
- Scores: attnc has no command that prints the interpreter's logits, so the
  score_mods (alibi, softcap) are compared with formulas written by hand from
  patterns/alibi.pattern, patterns/softcap.pattern and docs/DSL.md (ALiBi's
  slopes also with DSL.md's table of worked values), on a small attention
  output.
Exits 1 on a mismatch, 77 (skipped) without numpy.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIPPED: numpy is not installed (python3-numpy)")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from peers import patterns as P  # noqa: E402

# (pattern, params) pairs: the suite's values scaled down to the small sizes.
MASK_CASES = [
    ("causal", {}),
    ("sliding_window", {"window": 1}), ("sliding_window", {"window": 7}),
    ("sliding_window", {"window": 1000}),
    ("alibi", {}),
    ("document", {}),
    ("prefix_lm", {"prefix": 0}), ("prefix_lm", {"prefix": 9}), ("prefix_lm", {"prefix": 64}),
    ("softcap", {"cap": 30.0}),
    ("strided", {"stride": 1}), ("strided", {"stride": 4}), ("strided", {"stride": 7}),
    ("strided_merged", {"stride": 3}), ("strided_merged", {"stride": 8}),
    ("fixed", {"stride": 8, "c": 2}), ("fixed", {"stride": 8, "c": 8}), ("fixed", {"stride": 16, "c": 5}),
]
SHAPES = [(40, 40), (100, 100), (30, 50), (50, 30)]  # (Nq, Nk)
HEADS = 5  # odd, so that strided's head mapping h % 2 is not just a halving


def parse_show(text, H, Nq, Nk):
    """`attnc show` output -> bool array [H, Nq, Nk]."""
    lines = text.splitlines()
    out = np.zeros((H, Nq, Nk), dtype=bool)
    seen = set()
    n = 0
    while n < len(lines):
        line = lines[n]
        if line.startswith("head ") or line.startswith("heads "):
            heads = [int(x) for x in line.split(" ", 1)[1].rstrip(":").split(",")]
            rows = lines[n + 1:n + 1 + Nq]
            grid = np.array([[c == "#" for c in row] for row in rows], dtype=bool)
            if grid.shape != (Nq, Nk):
                raise ValueError(f"unexpected `attnc show` rows under '{line}'")
            for h in heads:
                out[h] = grid
                seen.add(h)
            n += 1 + Nq
        else:
            n += 1
    if seen != set(range(H)):
        raise ValueError(f"`attnc show` drew heads {sorted(seen)}, expected 0..{H - 1}")
    return out


def random_documents(n, count, seed):
    """Doc ids [n] of `count` non-empty documents with random lengths, in order
    (any such ids do: attnc show and the mask_mod read the same ones)."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, n), size=count - 1, replace=False))
    return np.searchsorted(cuts, np.arange(n), side="right").astype(np.int32)


def check_masks(attnc, patterns_dir, tmp):
    failures = 0
    for name, params in MASK_CASES:
        pattern = P.PATTERNS[name]
        for Nq, Nk in SHAPES:
            command = [attnc, "show", os.path.join(patterns_dir, name + ".pattern"),
                       "--seq", str(Nq), "--seq-k", str(Nk), "--heads", str(HEADS)]
            command += [f"-D{k}={v}" for k, v in params.items()]
            tensors = {}
            if "doc" in pattern.tensors:
                doc = random_documents(Nk, count=min(6, Nk), seed=Nq)
                path = os.path.join(tmp, f"doc{Nk}.txt")
                np.savetxt(path, doc, fmt="%d")
                command += ["--tensor", f"doc={path}"]
                tensors["doc"] = doc
            shown = subprocess.run(command, capture_output=True, text=True)
            if shown.returncode != 0:
                print(f"FAIL {name} {params} Nq={Nq} Nk={Nk}: attnc show failed: {shown.stderr.strip()}")
                failures += 1
                continue
            expected = parse_show(shown.stdout, HEADS, Nq, Nk)
            got = P.numpy_mask(pattern, params, tensors, HEADS, Nq, Nk)
            for h in range(HEADS):
                if not np.array_equal(expected[h], got[h]):
                    bad = np.argwhere(expected[h] != got[h])[0]
                    print(f"FAIL {name} {params} Nq={Nq} Nk={Nk} head {h}: first difference at "
                          f"(i, j) = ({bad[0]}, {bad[1]}): attnc {expected[h][tuple(bad)]}, "
                          f"mask_mod {got[h][tuple(bad)]}")
                    failures += 1
                    break
    print(f"masks: {len(MASK_CASES)} pattern settings x {len(SHAPES)} shapes x {HEADS} heads, "
          f"{failures} mismatches")
    return failures


def attention(scores, mask, v):
    """softmax over the connected keys of each row, then P @ v (float64)."""
    s = np.where(mask, scores.astype(np.float64), -np.inf)
    m = s.max(axis=-1, keepdims=True)
    p = np.where(mask, np.exp(s - m), 0.0)
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def check_scores():
    failures = 0
    # DSL.md 11, table of worked values of alibi_slope(h, n) for n = 8 and 12.
    table8 = [2.0 ** -(h + 1) for h in range(8)]
    table12 = table8 + [2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]
    for n, table in [(8, table8), (12, table12), (1, [2.0 ** -8])]:
        if not np.allclose(P.alibi_slopes(n), table, rtol=1e-15, atol=0):
            print(f"FAIL alibi_slopes({n}) = {P.alibi_slopes(n)}, DSL.md says {table}")
            failures += 1
    for H in (16, 6):
        closed = [2.0 ** (-8.0 * (h + 1) / H) for h in range(H)] if H == 16 else None
        if closed and not np.allclose(P.alibi_slopes(H), closed, rtol=1e-12, atol=0):
            print(f"FAIL alibi_slopes({H}) differs from 2^(-8 (h + 1) / H)")
            failures += 1

    rng = np.random.default_rng(3)
    H, D = 4, 16
    for name, params, Nq, Nk in [("alibi", {}, 24, 24), ("alibi", {}, 16, 24),
                                 ("softcap", {"cap": 30.0}, 24, 24), ("softcap", {"cap": 2.0}, 20, 20)]:
        pattern = P.PATTERNS[name]
        q = rng.standard_normal((H, Nq, D)).astype(np.float32) * 2
        k = rng.standard_normal((H, Nk, D)).astype(np.float32) * 2
        v = rng.standard_normal((H, Nk, D))
        scaled = (q @ k.transpose(0, 2, 1)) / np.float32(np.sqrt(D))  # scale = 1/sqrt(D)
        mask = P.numpy_mask(pattern, params, {}, H, Nq, Nk)
        got = attention(P.numpy_scores(pattern, params, {}, H, Nq, Nk, scaled), mask, v)
        # By hand from the .pattern files: alibi: bias = -m_h (i + Nk - Nq - j),
        # added after the scale; softcap: cap * tanh(score / cap).
        i = np.arange(Nq)[:, None]
        j = np.arange(Nk)[None, :]
        if name == "alibi":
            m = np.array([2.0 ** (-8.0 * (h + 1) / H) for h in range(H)])[:, None, None]
            ref_scores = scaled - m * (i + Nk - Nq - j)
        else:
            ref_scores = params["cap"] * np.tanh(scaled / params["cap"])
        ref = attention(ref_scores, mask, v)
        error = np.linalg.norm(got - ref) / np.linalg.norm(ref)
        if not error < 1e-6:
            print(f"FAIL {name} {params} Nq={Nq} Nk={Nk}: attention output relative error {error:.3e}")
            failures += 1
        # The score rewrite must not be the identity (a test that could not fail).
        plain = attention(scaled, mask, v)
        if np.linalg.norm(plain - ref) / np.linalg.norm(ref) < 1e-3:
            print(f"FAIL {name} {params}: the test inputs do not exercise the score_mod")
            failures += 1
    print(f"scores: alibi slopes and alibi/softcap attention outputs, {failures} failures")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attnc", default="build/bin/attnc", help="the attnc CLI (default: %(default)s)")
    parser.add_argument("--patterns", default="patterns", help="the bundled patterns (default: %(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        failures = check_masks(args.attnc, args.patterns, tmp) + check_scores()
    print("FAILED" if failures else "bench/peers/patterns.py matches attnc")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
