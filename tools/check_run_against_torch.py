#!/usr/bin/env python3
"""Checks `attnc run` (forward and backward) against PyTorch autograd.

On a GPU machine with PyTorch, from the repository root with a build:

    tools/check_run_against_torch.py [--attnc build/bin/attnc] [--dtype bf16|fp16]

For causal attention (patterns/causal.pattern) on random inputs, B=2, H=4
query heads on 2 key/value heads, N=1000, D=128: runs `attnc run` with --do,
computes the same attention in float64 with torch (GQA by repeating k and v,
their gradients summed back), and prints the relative errors of O, LSE, dQ,
dK and dV (||attnc - torch|| / ||torch||). Exits 1 if one exceeds the
tolerance of the GPU tests (O: 2e-2 bf16 / 5e-3 fp16; gradients: 3e-2 / 1e-2).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch


def relative(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attnc", default="build/bin/attnc")
    parser.add_argument("--dtype", choices=["bf16", "fp16"], default="bf16")
    args = parser.parse_args()
    B, H, HKV, N, D = 2, 4, 2, 1000, 128
    rng = np.random.default_rng(7)
    torch_dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    # The values the GPU sees: rounded to the dtype first, then widened.
    def rounded(shape):
        x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
        return x.to(torch_dtype).to(torch.float32).numpy()
    q, k, v = rounded((B, H, N, D)), rounded((B, HKV, N, D)), rounded((B, HKV, N, D))
    do = rounded((B, H, N, D))

    with tempfile.TemporaryDirectory() as tmp:
        path = lambda name: os.path.join(tmp, name + ".npy")
        for name, array in [("q", q), ("k", k), ("v", v), ("do", do)]:
            np.save(path(name), array)
        subprocess.run([args.attnc, "run", "patterns/causal.pattern", "--dtype", args.dtype,
                        "--q", path("q"), "--k", path("k"), "--v", path("v"),
                        "--o", path("o"), "--lse", path("lse"), "--do", path("do"),
                        "--dq", path("dq"), "--dk", path("dk"), "--dv", path("dv")],
                       check=True)
        got = {name: np.load(path(name)) for name in ["o", "lse", "dq", "dk", "dv"]}

    t = lambda x: torch.from_numpy(x).double().cuda().requires_grad_(True)
    tq, tk, tv = t(q), t(k), t(v)
    group = H // HKV
    kk, vv = tk.repeat_interleave(group, dim=1), tv.repeat_interleave(group, dim=1)
    logits = tq @ kk.transpose(-1, -2) / D ** 0.5
    mask = torch.ones(N, N, dtype=torch.bool, device="cuda").tril()
    logits = logits.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(logits, dim=-1)
    o = torch.softmax(logits, dim=-1) @ vv
    o.backward(torch.from_numpy(do).double().cuda())
    ref = {"o": o, "lse": lse, "dq": tq.grad, "dk": tk.grad, "dv": tv.grad}

    tolerance = {"o": 2e-2, "grad": 3e-2} if args.dtype == "bf16" else {"o": 5e-3, "grad": 1e-2}
    failed = False
    for name in ["o", "lse", "dq", "dk", "dv"]:
        error = relative(got[name], ref[name].detach().cpu().numpy())
        limit = tolerance["o"] if name in ("o", "lse") else tolerance["grad"]
        failed |= not error <= limit
        print(f"{name}: relative error {error:.3e} (tolerance {limit:g})")
    print("FAILED" if failed else "attnc run matches torch autograd")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
