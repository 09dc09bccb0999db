#!/usr/bin/env python3
"""Runs compare_peers.py's orchestration without a GPU or torch: a fake
attnc-bench (a Python script answering --list and --json from a fixture) and
stand-ins for the torch measurements (peers.gpu, peers.flex, peers.sdpa). Checks
that every case of the listing gets a record, that a failing peer is recorded
with its reason and the run goes on, that --filter and --resume work (attnc-bench
gets --skip-done; done cases are not measured again), and that the report is written.

    bench/tests/smoke_compare_peers.py
"""
import json
import os
import stat
import sys
import tempfile
import types

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)

FAKE_BENCH = r'''#!/usr/bin/env python3
import json, re, sys
args = sys.argv[1:]
listing = json.load(open(__file__ + ".listing.json"))
with open(__file__ + ".calls", "a") as log:
    log.write(" ".join(args) + "\n")
if "--list" in args:
    print(json.dumps(listing))
    sys.exit(0)
out = args[args.index("--json") + 1]
skip = set()
if "--skip-done" in args:
    skip = {c["id"] for c in json.load(open(args[args.index("--skip-done") + 1]))["cases"]}
wanted = args[args.index("--filter") + 1] if "--filter" in args else ""
cases = [dict(id=c["id"], D=c["D"], pairs=1000, fwd_ms=1.0, bwd_ms=2.0, fwdbwd_ms=3.0) for c in listing["cases"]
         if c["id"] not in skip and re.search(wanted, c["id"])]
json.dump({"gpu": "fake", "cases": cases, "layout_cases": []}, open(out, "w"))
'''


def case(cid, pattern):
    return {"id": cid, "pattern": pattern, "file": f"patterns/{pattern}.pattern", "params": {},
            "B": 1, "H": 2, "Hkv": 2, "N": 64, "D": 64, "dtype": "bf16", "tensors": {}}


def install_stubs(calls):
    gpu = types.ModuleType("peers.gpu")
    gpu.make_inputs = lambda case, count, seed: [object()] * count
    gpu.release = lambda: None
    gpu.first_line = lambda error: f"{type(error).__name__}: {error}"
    gpu.machine = lambda: {"gpu": "fake GPU", "driver": "0", "cuda": "0", "torch": "0"}
    flex = types.ModuleType("peers.flex")
    flex.RECOMPILE_LIMIT = 1000
    flex.Flex = object

    def measure(session, case, pattern, params, sets, iters, warmup, check=None):
        calls.append(("flex", case["id"]))
        if case["pattern"] == "softcap":
            raise RuntimeError("compile failed")
        return {"fwd_ms": 2.0, "bwd_ms": 4.0, "fwdbwd_ms": 6.0, "check": {"passed": True, "errors": {"o": 0.0},
                                                                         "tolerance": {"o": 0.02}}}, None
    flex.measure = measure
    flex.measure_layout = lambda session, lcase, pattern, params: {"block_mask_ms": 1.0, "block_mask_first_s": 1.0}
    sdpa = types.ModuleType("peers.sdpa")
    sdpa.BACKENDS = {"cudnn": "CUDNN_ATTENTION", "flash": "FLASH_ATTENTION"}

    def sdpa_measure(backend, case, pattern, sets, iters, warmup, flex_o=None):
        if pattern.sdpa is None:
            return {"not_run": f"not supported by {backend}: no"}
        return {"fwd_ms": 1.0, "bwd_ms": 2.0, "fwdbwd_ms": 3.0}
    sdpa.measure = sdpa_measure
    check = types.ModuleType("peers.check")
    import peers
    for name, module in [("gpu", gpu), ("flex", flex), ("sdpa", sdpa), ("check", check)]:
        sys.modules["peers." + name] = module
        setattr(peers, name, module)


def main():
    import compare_peers
    calls = []
    install_stubs(calls)
    listing = {"cases": [case("causal_a", "causal"), case("softcap_b", "softcap"), case("nope_c", "unknown")],
               "layout_cases": [{"id": "causal_L", "pattern": "causal", "params": {}, "H": 2, "N": 1 << 20}]}
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "build", "bin"))
        fake = os.path.join(tmp, "build", "bin", "attnc-bench")
        with open(fake, "w") as f:
            f.write(FAKE_BENCH)
        json.dump(listing, open(fake + ".listing.json", "w"))
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
        attnc = os.path.join(tmp, "build", "bin", "attnc")
        open(attnc, "w").close()
        os.chmod(attnc, stat.S_IRWXU)
        out, perf = os.path.join(tmp, "out"), os.path.join(tmp, "PERF.md")
        common = ["--build", os.path.join(tmp, "build"), "--perf", perf, "--chart", "", "--commit", "abc"]
        compare_peers.main(common + ["--out", out, "--filter", "causal"])
        results = json.load(open(os.path.join(out, "peers.json")))
        assert list(results["cases"]) == ["causal_a"], results["cases"].keys()
        assert calls == [("flex", "causal_a")], calls
        compare_peers.main(common + ["--resume", out])
        results = json.load(open(os.path.join(out, "peers.json")))
        assert list(results["cases"]) == ["causal_a", "softcap_b", "nope_c"], results["cases"].keys()
        assert calls == [("flex", "causal_a"), ("flex", "softcap_b")], calls
        soft, nope = results["cases"]["softcap_b"], results["cases"]["nope_c"]
        assert soft["flex"] == {"error": "RuntimeError: compile failed"}, soft
        assert soft["check"]["not_checked"].startswith("FlexAttention did not run"), soft
        assert soft["cudnn"]["not_run"].startswith("not supported by cudnn"), soft
        assert "no FlexAttention version" in nope["flex"]["not_run"], nope
        assert results["layout_cases"]["causal_L"]["flex"]["block_mask_ms"] == 1.0
        bench_calls = open(fake + ".calls").read().splitlines()
        assert any("--skip-done" in c for c in bench_calls), bench_calls
        attnc_ids = [c["id"] for c in json.load(open(os.path.join(out, "attnc.json")))["cases"]]
        assert sorted(attnc_ids) == ["causal_a", "nope_c", "softcap_b"], attnc_ids
        text = open(perf).read()
        for cid in ("causal_a", "softcap_b", "nope_c", "causal_L"):
            assert f"`{cid}`" in text, cid
        assert "commit abc" in text
    print("compare_peers.py orchestration: OK")


if __name__ == "__main__":
    main()
