"""The correctness check of a case, before it is timed: attnc (`attnc run`,
forward and backward, on .npy files) against FlexAttention on the same inputs.

The inputs are input set 0 of the case (standard normal, rounded to the case's
dtype on the GPU), written as float32 .npy holding exactly the rounded values,
so attnc and Flex see identical numbers. Compared: O, LSE, dQ, dK, dV, as
||attnc - flex|| / ||flex||. The tolerances are those of attnc's GPU tests
(tests/unit/GpuForwardTest.cpp, GpuBackwardTest.cpp): O and LSE 2e-2 (bf16) /
5e-3 (fp16); gradients 3e-2 / 1e-2. Both sides are low-precision here (the
tests compare with float64), so the difference can reach the sum of their
errors: a near miss is worth a look at `ref_rows`, which compares both with a
float32 computation of a few rows from the pattern's mask_mod/score_mod.
"""
import os
import subprocess

from . import gpu

TOLERANCE = {"bf16": {"o": 2e-2, "lse": 2e-2, "grad": 3e-2},
             "fp16": {"o": 5e-3, "lse": 5e-3, "grad": 1e-2}}
REF_ROWS = 64


def define_flags(params):
    flags = []
    for name, value in sorted(params.items()):
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        flags.append(f"-D{name}={text}")
    return flags


def run_attnc(attnc, case, arrays, tmp):
    """`attnc run` with --do on arrays {q, k, v, do}; returns {o, lse, dq, dk, dv}."""
    import numpy as np
    path = {name: os.path.join(tmp, name + ".npy") for name in
            ("q", "k", "v", "do", "o", "lse", "dq", "dk", "dv")}
    for name, array in arrays.items():
        np.save(path[name], array)
    command = [attnc, "run", case["file"], "--dtype", case["dtype"], "--layout", "bhnd"]
    command += define_flags(case.get("params") or {})
    for name, spec in (case.get("tensors") or {}).items():
        command += ["--tensor", f"{name}={spec['npy']}"]
    for name in ("q", "k", "v", "o", "lse", "do", "dq", "dk", "dv"):
        command += [f"--{name}", path[name]]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")
        raise RuntimeError(f"attnc run failed: {message.splitlines()[-1]}")
    out = {name: np.load(path[name]) for name in ("o", "lse", "dq", "dk", "dv")}
    for name in path:
        os.remove(path[name])
    return out


def relative(a, b):
    """||a - b|| / ||b|| over the finite entries of b (torch tensors, float64)."""
    import torch
    a, b = a.double(), b.double()
    finite = torch.isfinite(b)
    if not torch.equal(finite, torch.isfinite(a)):
        return float("inf")
    a, b = a[finite], b[finite]
    return float(torch.linalg.norm(a - b) / torch.linalg.norm(b).clamp_min(1e-30))


def reference_rows(case, s, mask_mod, score_mod, rows):
    """O and LSE of the given query rows, in float32 from the mask and score functions."""
    import torch
    B, H, Hkv, N, D = (int(case[key]) for key in ("B", "H", "Hkv", "N", "D"))
    q = s.q.detach()[:, :, rows].float()
    k = s.k.detach().float().repeat_interleave(H // Hkv, dim=1)
    v = s.v.detach().float().repeat_interleave(H // Hkv, dim=1)
    b = torch.arange(B, device="cuda").view(B, 1, 1, 1)
    h = torch.arange(H, device="cuda").view(1, H, 1, 1)
    i = rows.view(1, 1, -1, 1)
    j = torch.arange(N, device="cuda").view(1, 1, 1, N)
    scores = (q @ k.transpose(-1, -2)) / D ** 0.5
    if score_mod is not None:
        scores = score_mod(scores, b, h, i, j)
    connected = torch.broadcast_to(mask_mod(b, h, i, j), scores.shape)
    scores = scores.masked_fill(~connected, float("-inf"))
    lse = torch.logsumexp(scores, dim=-1)
    return torch.softmax(scores, dim=-1) @ v, lse


def check(attnc, case, s, flex_attend, mask_mod, score_mod, tmp):
    """The check record of a case: errors, tolerances, passed."""
    import torch
    tolerance = TOLERANCE[case["dtype"]]
    arrays = {name: getattr(s, name).detach().float().cpu().numpy() for name in ("q", "k", "v", "do")}
    got = run_attnc(attnc, case, arrays, tmp)
    got = {name: torch.from_numpy(array).cuda() for name, array in got.items()}
    o, lse = flex_attend(s, True)
    dq, dk, dv = torch.autograd.grad(o, (s.q, s.k, s.v), s.do)
    flex = {"o": o.detach(), "lse": lse.detach(), "dq": dq, "dk": dk, "dv": dv}
    errors = {name: relative(got[name], flex[name]) for name in flex}
    limits = {name: tolerance[name if name in ("o", "lse") else "grad"] for name in flex}
    record = {"errors": errors, "tolerance": limits,
              "passed": all(errors[name] <= limits[name] for name in flex)}
    # A third opinion on a few rows (the last one and random ones).
    N = int(case["N"])
    generator = torch.Generator(device="cuda").manual_seed(11)
    rows = torch.cat([torch.randint(0, N, (REF_ROWS - 1,), generator=generator, device="cuda"),
                      torch.tensor([N - 1], device="cuda")])
    ref_o, ref_lse = reference_rows(case, s, mask_mod, score_mod, rows)
    record["ref_rows"] = {
        "rows": REF_ROWS,
        "o": {"attnc": relative(got["o"][:, :, rows], ref_o), "flex": relative(flex["o"][:, :, rows], ref_o)},
        "lse": {"attnc": relative(got["lse"][:, :, rows], ref_lse),
                "flex": relative(flex["lse"][:, :, rows], ref_lse)}}
    return record


def guarded(fn):
    """fn()'s record, or {"passed": False, "error": ...} when it raises."""
    try:
        return fn()
    except Exception as error:  # noqa: BLE001 -- every failure is recorded, none is fatal
        gpu.release()
        return {"passed": False, "error": gpu.first_line(error)}
