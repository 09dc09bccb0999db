"""PyTorch FlexAttention: block-mask build, compile, forward and backward times.

One torch.compile(flex_attention, dynamic=False) serves every case; dynamo's
recompile limits are raised so that each case (a new mask_mod/score_mod, a new
shape) gets its own compiled kernels instead of falling back to the eager,
unfused implementation once the default limit (8) is hit.

What is timed, with CUDA events around the call alone (gpu.median_ms):
- fwd: o = flex(q, k, v) with q, k, v requiring grad (the training forward,
  which also writes the LSE the backward needs);
- bwd: after an untimed forward, torch.autograd.grad(o, (q, k, v), dO): the
  compiled backward graph (its preprocessing and dQ/dK/dV kernels, as attnc's
  backward has its rowsum pre-pass and two kernels) and the gradients'
  allocations from PyTorch's caching allocator;
- fwd+bwd: both in one timed call.
Block-mask build: create_block_mask(..., _compile=True when the option exists)
on a CUDA device, median of 5 builds after a first one (which compiles it).
Compile: wall time of the first forward + backward of the case, synchronized
(PyTorch's on-disk caches may shorten it for a case whose kernels an earlier
case or run produced).
"""
import inspect
import statistics

from . import gpu

RECOMPILE_LIMIT = 1000
BLOCK = 128  # FlexAttention's default block size (rows and columns of a block-mask entry)


def raise_recompile_limits(limit=RECOMPILE_LIMIT):
    """Raises every dynamo cache/recompile limit this torch has; returns them."""
    import torch._dynamo
    config = torch._dynamo.config
    raised = {}
    for name in ("cache_size_limit", "recompile_limit",
                 "accumulated_cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(config, name):
            setattr(config, name, max(int(getattr(config, name)), limit))
            raised[name] = getattr(config, name)
    if not raised:
        raise RuntimeError("torch._dynamo.config has no cache_size_limit or recompile_limit to raise")
    return raised


class TorchOps:
    """The ops patterns.py's score factories need, on CUDA tensors."""
    def array(self, values, dtype):
        import torch
        return torch.tensor(values, dtype=getattr(torch, dtype), device="cuda")

    def tanh(self, x):
        import torch
        return torch.tanh(x)


def case_tensors(case):
    """The case's tensor parameters (the listing's .npy files) on the GPU."""
    import numpy as np
    import torch
    tensors = {}
    for name, spec in (case.get("tensors") or {}).items():
        if "npy" not in spec:
            raise RuntimeError(f"the listing gives no .npy path for tensor '{name}' "
                               "(attnc-bench --list --tensors-dir DIR)")
        tensors[name] = torch.from_numpy(np.load(spec["npy"])).cuda()
    return tensors


class Flex:
    def __init__(self):
        import torch
        from torch.nn.attention import flex_attention as module
        self.limits = raise_recompile_limits()
        self.module = module
        self.compiled = torch.compile(module.flex_attention, dynamic=False)
        self.compile_block_mask = "_compile" in inspect.signature(module.create_block_mask).parameters
        attend_params = inspect.signature(module.flex_attention).parameters
        # Newer torch asks for the LSE with return_aux=AuxRequest(lse=True);
        # older with return_lse=True.
        self.aux = "return_aux" in attend_params and hasattr(module, "AuxRequest")
        if not self.aux and "return_lse" not in attend_params:
            raise RuntimeError("flex_attention has neither return_aux nor return_lse")

    def block_mask(self, mask_mod, heads, n):
        kwargs = {"device": "cuda"}
        if self.compile_block_mask:
            kwargs["_compile"] = True
        return self.module.create_block_mask(mask_mod, None, heads, n, n, **kwargs)

    def attend(self, s, score_mod, block_mask, gqa, lse=False):
        kwargs = {"score_mod": score_mod, "block_mask": block_mask}
        if gqa:
            kwargs["enable_gqa"] = True
        if not lse:
            return self.compiled(s.q, s.k, s.v, **kwargs)
        if self.aux:
            o, aux = self.compiled(s.q, s.k, s.v, return_aux=self.module.AuxRequest(lse=True), **kwargs)
            return o, aux.lse
        return self.compiled(s.q, s.k, s.v, return_lse=True, **kwargs)


def mods(case, pattern, params, tensors):
    """(mask_mod, score_mod or None, heads for create_block_mask) of a case."""
    N, H = int(case["N"]), int(case["H"])
    mask_mod = pattern.mask(params, tensors, N, N)
    score_mod = pattern.score(params, tensors, H, N, N, TorchOps()) if pattern.score else None
    return mask_mod, score_mod, (H if pattern.per_head else None)


def time_block_mask(flex, mask_mod, heads, n, repeats=5, budget_s=60.0):
    """(block mask, first build s, median ms of up to `repeats` more builds);
    fewer repeats when the first build is slow (budget_s in all)."""
    block_mask, first = gpu.wall_s(lambda: flex.block_mask(mask_mod, heads, n))
    count = max(1, min(repeats, int(budget_s / max(first, 1e-3))))
    times = []
    for _ in range(count):
        block_mask, seconds = gpu.wall_s(lambda: flex.block_mask(mask_mod, heads, n))
        times.append(seconds * 1e3)
    return block_mask, first, statistics.median(times)


def measure(flex, case, pattern, params, sets, iters, warmup, check=None):
    """(Flex's numbers for one case, its output on input set 0). check(attend,
    mask_mod, score_mod) runs the correctness check between compiling and
    timing; its record is returned under "check"."""
    import torch
    tensors = case_tensors(case)
    mask_mod, score_mod, heads = mods(case, pattern, params, tensors)
    N = int(case["N"])
    gqa = int(case["Hkv"]) != int(case["H"])
    result = {"block_mask_heads": heads if heads is not None else "None (same for all heads)"}
    block_mask, result["block_mask_first_s"], result["block_mask_ms"] = \
        time_block_mask(flex, mask_mod, heads, N)

    def forward(s):
        return flex.attend(s, score_mod, block_mask, gqa)

    def grads(o, s):
        return torch.autograd.grad(o, (s.q, s.k, s.v), s.do)

    _, result["compile_s"] = gpu.wall_s(lambda: grads(forward(sets[0]), sets[0]))
    if check is not None:
        result["check"] = check(lambda s, lse: flex.attend(s, score_mod, block_mask, gqa, lse=lse),
                                mask_mod, score_mod)
    result.update(gpu.training_times(forward, grads, sets, iters, warmup))
    return result, forward(sets[0]).detach()


def block_mask_bytes(heads, n):
    """A generous estimate of create_block_mask's device memory: per head and
    block of the N x N matrix, int32 counts and indices for the kv and q
    directions, full and partial, and as much again for intermediates."""
    blocks = -(-n // BLOCK)
    return (heads or 1) * blocks * blocks * 4 * 4 * 2


def measure_layout(flex, lcase, pattern, params):
    """Flex's block-mask build for a layout case (large N, no attention run),
    or the reason it is not run."""
    N, H = int(lcase["N"]), int(lcase["H"])
    heads = H if pattern.per_head else None
    free = gpu.free_bytes()
    need = block_mask_bytes(heads, N)
    if need > 0.8 * free:
        return {"not_run": f"create_block_mask would need about {need / 2**30:.1f} GiB "
                           f"({free / 2**30:.1f} GiB free)"}
    if not flex.compile_block_mask and (heads or 1) * N * N > free // 4:
        return {"not_run": "this torch's create_block_mask has no _compile option: eager "
                           f"builds materialize the {N} x {N} mask"}
    tensors = case_tensors(lcase)
    mask_mod = pattern.mask(params, tensors, N, N)
    _, first, median = time_block_mask(flex, mask_mod, heads, N, repeats=3, budget_s=20.0)
    return {"block_mask_heads": heads if heads is not None else "None (same for all heads)",
            "block_mask_first_s": first, "block_mask_ms": median}
