"""PyTorch scaled_dot_product_attention with the cuDNN and flash backends.

SDPA takes a pattern only as is_causal=True or a dense attn_mask. It runs:
- causal: is_causal=True;
- alibi: an additive bf16/fp16 bias [1, H, N, N] (-m_h (i - j) where j <= i,
  -inf elsewhere) as attn_mask, when it fits in device memory next to the
  operands; the flash backend takes no attn_mask, so it does not run alibi.
Every other pattern, and every failure, is recorded as "not_run" with the
reason. Timed exactly as flex.py times FlexAttention (forward with q, k, v
requiring grad; backward = autograd.grad after an untimed forward; both).
"""
from . import gpu
from .patterns import SDPA_UNSUPPORTED, alibi_slopes

BACKENDS = {"cudnn": "CUDNN_ATTENTION", "flash": "FLASH_ATTENTION"}
HEADROOM = 4 * 2 ** 30  # bytes left free for the backends' workspaces


def alibi_bias(case, dtype):
    """[1, H, N, N] additive bias of patterns/alibi.pattern (Nq == Nk), built by row blocks."""
    import torch
    H, N = int(case["H"]), int(case["N"])
    bias = torch.empty((1, H, N, N), dtype=dtype, device="cuda")
    slopes = alibi_slopes(H)
    j = torch.arange(N, device="cuda").view(1, N)
    step = max(1, 2 ** 28 // N)  # rows per block: 1 GiB of float32
    for h in range(H):
        m = torch.tensor(-slopes[h], dtype=torch.float32, device="cuda")
        for start in range(0, N, step):
            i = torch.arange(start, min(N, start + step), device="cuda").view(-1, 1)
            block = m * (i - j)
            bias[0, h, start:start + step] = block.masked_fill(j > i, float("-inf")).to(dtype)
    return bias


def why_not(backend, case, pattern, sets):
    """The reason the backend does not run the case, or None."""
    if pattern.sdpa is None:
        return f"not supported by {backend}: {SDPA_UNSUPPORTED.get(pattern.name, 'no SDPA form')}"
    if pattern.sdpa == "bias":
        if backend == "flash":
            return "not supported by flash: no additive bias support (attn_mask)"
        H, N = int(case["H"]), int(case["N"])
        need = 2 * H * N * N + gpu.operand_bytes(case, sets) + HEADROOM
        free = gpu.free_bytes()
        if need > free:
            return (f"the [1, {H}, {N}, {N}] bias and operands need {need / 2**30:.1f} GiB, "
                    f"{free / 2**30:.1f} GiB free")
    return None


def measure(backend, case, pattern, sets, iters, warmup, flex_o=None):
    """The backend's numbers for a case, or {"not_run": reason}."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from .check import relative

    reason = why_not(backend, case, pattern, len(sets))
    if reason:
        return {"not_run": reason}
    choice = getattr(SDPBackend, BACKENDS[backend])
    kwargs = {"is_causal": True} if pattern.sdpa == "causal" else {"attn_mask": alibi_bias(case, sets[0].q.dtype)}
    if int(case["Hkv"]) != int(case["H"]):
        kwargs["enable_gqa"] = True

    def forward(s):
        with sdpa_kernel([choice]):
            return F.scaled_dot_product_attention(s.q, s.k, s.v, **kwargs)

    def grads(o, s):
        with sdpa_kernel([choice]):
            return torch.autograd.grad(o, (s.q, s.k, s.v), s.do)

    result = {"how": "is_causal=True" if pattern.sdpa == "causal" else "additive bias [1, H, N, N]"}
    o, result["first_s"] = gpu.wall_s(lambda: forward(sets[0]))
    if flex_o is not None:
        result["o_vs_flex"] = relative(o.detach(), flex_o)
    del o
    result.update(gpu.training_times(forward, grads, sets, iters, warmup))
    return result
