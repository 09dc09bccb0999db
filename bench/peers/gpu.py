"""What the torch measurements share: inputs, CUDA-event timing, the machine.

torch is imported inside the functions (see __init__.py).
"""
import statistics
import subprocess
import time

TORCH_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def torch_dtype(name):
    import torch
    if name not in TORCH_DTYPES:
        raise ValueError(f"dtype '{name}' is not one of {sorted(TORCH_DTYPES)}")
    return getattr(torch, TORCH_DTYPES[name])


class InputSet:
    """q, k, v (leaves that require grad) and dO of one case, on the GPU."""
    def __init__(self, q, k, v, do):
        self.q, self.k, self.v, self.do = q, k, v, do


def make_inputs(case, count, seed):
    """`count` sets of standard normal q [B, H, N, D], k, v [B, Hkv, N, D] and
    dO, in the case's dtype. Timings rotate over the sets (as attnc-bench
    does) so that no call finds its operands in L2; set 0 is the one checked."""
    import torch
    dtype = torch_dtype(case["dtype"])
    B, H, Hkv, N, D = (int(case[key]) for key in ("B", "H", "Hkv", "N", "D"))
    generator = torch.Generator(device="cuda").manual_seed(seed)

    def randn(heads, grad):
        x = torch.randn((B, heads, N, D), generator=generator, device="cuda", dtype=torch.float32)
        return x.to(dtype).requires_grad_(grad)
    return [InputSet(randn(H, True), randn(Hkv, True), randn(Hkv, True), randn(H, False))
            for _ in range(count)]


def median_ms(run, sets, iters, warmup, prepare=None):
    """Median over `iters` calls of run(state), in ms from CUDA events around
    the call alone. state = prepare(set) (untimed, e.g. the forward whose
    graph a timed backward consumes), else the set; the sets rotate."""
    import torch
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for n in range(warmup + iters):
        s = sets[n % len(sets)]
        state = prepare(s) if prepare else s
        torch.cuda.synchronize()
        start.record()
        run(state)
        end.record()
        end.synchronize()
        if n >= warmup:
            times.append(start.elapsed_time(end))
        del state
    return statistics.median(times)


def training_times(forward, grads, sets, iters, warmup):
    """fwd_ms, bwd_ms and fwdbwd_ms of a system, timed alike for every peer:
    forward(set) -> o; grads(o, set) the backward; bwd is timed after an
    untimed forward, fwd+bwd as one call."""
    return {"fwd_ms": median_ms(forward, sets, iters, warmup),
            "bwd_ms": median_ms(lambda state: grads(*state), sets, iters, warmup,
                                prepare=lambda s: (forward(s), s)),
            "fwdbwd_ms": median_ms(lambda s: grads(forward(s), s), sets, iters, warmup)}


def wall_s(fn):
    """(result, seconds) of fn(), synchronized before and after."""
    import torch
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    result = fn()
    torch.cuda.synchronize()
    return result, time.perf_counter() - t0


def first_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()


def release():
    """Frees what a failed or finished measurement left in the caching allocator."""
    import gc
    import torch
    gc.collect()
    torch.cuda.empty_cache()


def machine():
    """GPU name, driver, CUDA and torch versions."""
    import torch
    info = {"torch": torch.__version__, "cuda": torch.version.cuda,
            "gpu": torch.cuda.get_device_name(0), "driver": "unknown"}
    try:
        info["driver"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, check=True).stdout.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        pass
    return info


def free_bytes():
    import torch
    return torch.cuda.mem_get_info()[0]


def operand_bytes(case, sets):
    """Device bytes of `sets` input sets plus one forward's and backward's outputs."""
    B, H, Hkv, N, D = (int(case[key]) for key in ("B", "H", "Hkv", "N", "D"))
    one = 2 * B * N * D  # a 16-bit [B, 1, N, D] slice
    per_set = one * (2 * H + 2 * Hkv)               # q, dO; k, v
    outputs = one * (2 * H + 2 * Hkv) + 4 * B * H * N  # o, dq; dk, dv; lse
    return sets * per_set + 2 * outputs
