#!/usr/bin/env python3
"""Compares attnc with PyTorch's attention on the benchmark suite (issue 6).

On a GPU machine with PyTorch (FlexAttention), from the repository root with a
build (bench/README.md says how to build on a machine without a GPU):

    python3 bench/compare_peers.py [--out DIR]

1. lists the suite's cases with `attnc-bench --list` (the C++ tool owns the
   expansion of the suite and the tensors' contents);
2. runs `attnc-bench --json DIR/attnc.json` (attnc's times, layout build and
   compile times);
3. in this process, for each case: FlexAttention (compiled) checked against
   `attnc run` on the same inputs (O, LSE and gradients), then timed; SDPA with
   the cuDNN and flash backends where SDPA can express the pattern; and Flex's
   block-mask build for the large-N layout cases. DIR/peers.json is rewritten
   after every case, so a run that is cut short keeps what it measured;
   --resume DIR carries on;
4. writes the block between <!-- compare_peers:begin --> and
   <!-- compare_peers:end --> of docs/PERF.md and docs/perf_vs_peers.png.
A case a system cannot run is reported with the reason, never left out.
--report-only DIR/peers.json redoes step 4 alone (no GPU or torch needed).
"""
import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import report  # noqa: E402
from peers.patterns import case_args  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Outputs: DIR/listing.json, DIR/attnc.json, DIR/peers.json, DIR/tensors/; "
               "--perf and --chart.", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="bench/suites/default.json", help="the suite (default: %(default)s)")
    parser.add_argument("--build", default="build", help="the build folder with bin/attnc and "
                        "bin/attnc-bench (default: %(default)s)")
    parser.add_argument("--out", help="results folder (default: bench-results/DATE)")
    parser.add_argument("--resume", metavar="DIR", help="carry on an earlier run in DIR: skip the "
                        "cases DIR/peers.json has, and pass attnc-bench --skip-done")
    parser.add_argument("--filter", metavar="REGEX", help="only the cases (and layout cases) whose id "
                        "matches (re.search; also given to attnc-bench)")
    parser.add_argument("--iters", type=int, default=20, help="timed runs per measurement, median "
                        "taken (default: %(default)s; also given to attnc-bench)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: %(default)s)")
    parser.add_argument("--sets", type=int, default=4, help="input sets the timed runs rotate over "
                        "(default: %(default)s)")
    parser.add_argument("--no-attnc-bench", action="store_true", help="do not run attnc-bench; use "
                        "DIR/attnc.json as it is (if any)")
    parser.add_argument("--commit", help="the attnc commit to report (default: git rev-parse HEAD, "
                        "+dirty when the tracked files differ from it)")
    parser.add_argument("--perf", default="docs/PERF.md", help="the file whose block is written "
                        "(default: %(default)s)")
    parser.add_argument("--chart", default="docs/perf_vs_peers.png", help="the PNG chart "
                        "(default: %(default)s; '' for none)")
    parser.add_argument("--report-only", metavar="PEERS_JSON", help="only write --perf and --chart "
                        "from saved results (a DIR/peers.json)")
    args = parser.parse_args(argv)
    for name in ("iters", "sets"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.resume and args.out and os.path.abspath(args.resume) != os.path.abspath(args.out):
        parser.error("--resume DIR writes into DIR; do not give another --out")
    return args


def fail(message):
    print(f"compare_peers: error: {message}", file=sys.stderr)
    sys.exit(1)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_json(path, data):
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(temporary, path)


def commit_of(override):
    if override:
        return override
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout; give --commit)"


def tool(args, name):
    path = os.path.join(args.build, "bin", name)
    if not os.access(path, os.X_OK):
        fail(f"{path} not found or not executable: build first (tools/build.sh) or give --build")
    return path


def listing(args, out):
    """attnc-bench --list, with the tensors written under DIR/tensors."""
    command = [tool(args, "attnc-bench"), "--suite", args.suite, "--list",
               "--tensors-dir", os.path.join(out, "tensors")]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")
    data = json.loads(done.stdout)
    save_json(os.path.join(out, "listing.json"), data)
    return data


def merge_attnc(previous, new):
    """attnc-bench's results of a resumed run: the new ones over the earlier ones."""
    if not previous:
        return new
    merged = dict(new)
    for key in ("cases", "layout_cases"):
        by_id = {c["id"]: c for c in previous.get(key, [])}
        by_id.update({c["id"]: c for c in new.get(key, [])})
        merged[key] = list(by_id.values())
    return merged


def run_attnc_bench(args, out):
    """Runs attnc-bench into DIR/attnc.json; returns its results or {"error": ...}."""
    path = os.path.join(out, "attnc.json")
    if args.no_attnc_bench:
        return load_json(path) if os.path.exists(path) else {"error": "attnc-bench was not run (--no-attnc-bench)"}
    command = [tool(args, "attnc-bench"), "--suite", args.suite, "--json", path, "--iters", str(args.iters)]
    if args.filter:
        command += ["--filter", args.filter]
    previous = None
    if args.resume and os.path.exists(path):
        previous_path = os.path.join(out, "attnc.previous.json")
        os.replace(path, previous_path)
        previous = load_json(previous_path)
        command += ["--skip-done", previous_path]
    print("compare_peers: " + " ".join(shlex.quote(c) for c in command), flush=True)
    status = subprocess.run(command).returncode
    new = load_json(path) if os.path.exists(path) else {}
    results = merge_attnc(previous, new)
    if status != 0:
        results["error"] = f"attnc-bench exited with status {status}"
    save_json(path, results)
    return results


def selected(items, regex):
    return [item for item in items if not regex or re.search(regex, item["id"])]


def measure_case(args, case, flex_session, attnc, tmp):
    """The peers' record of one case."""
    from peers import check, flex, gpu, sdpa
    record = {"case": case}
    try:
        pattern, params = case_args(case)
    except KeyError as error:
        reason = str(error).strip("'\"")
        return dict(record, flex={"not_run": reason}, cudnn={"not_run": reason}, flash={"not_run": reason},
                    check={"not_checked": reason})
    sets = gpu.make_inputs(case, args.sets, seed=1234)
    flex_o = None
    if isinstance(flex_session, str):
        record["flex"] = {"error": flex_session}
    else:
        def run_check(attend, mask_mod, score_mod):
            return check.guarded(lambda: check.check(attnc, case, sets[0], attend, mask_mod, score_mod, tmp))
        try:
            result, flex_o = flex.measure(flex_session, case, pattern, params, sets, args.iters, args.warmup,
                                          check=run_check)
            record["check"] = result.pop("check")
            record["flex"] = result
        except Exception as error:  # noqa: BLE001 -- recorded, the run goes on
            record["flex"] = {"error": gpu.first_line(error)}
            gpu.release()
    record.setdefault("check", {"not_checked": "FlexAttention did not run: " + record["flex"].get("error", "")})
    for backend in sdpa.BACKENDS:
        try:
            record[backend] = sdpa.measure(backend, case, pattern, sets, args.iters, args.warmup, flex_o)
        except Exception as error:  # noqa: BLE001
            record[backend] = {"error": gpu.first_line(error)}
        gpu.release()
    del sets, flex_o
    gpu.release()
    return record


def measure_layout_case(lcase, flex_session):
    from peers import flex, gpu
    record = {"case": lcase}
    if isinstance(flex_session, str):
        return dict(record, flex={"error": flex_session})
    try:
        pattern, params = case_args(lcase)
        record["flex"] = flex.measure_layout(flex_session, lcase, pattern, params)
    except KeyError as error:
        record["flex"] = {"not_run": str(error).strip("'\"")}
    except Exception as error:  # noqa: BLE001
        record["flex"] = {"error": gpu.first_line(error)}
    gpu.release()
    return record


def run(args):
    out = os.path.abspath(args.resume or args.out or os.path.join(
        "bench-results", datetime.date.today().isoformat()))
    os.makedirs(out, exist_ok=True)
    peers_path = os.path.join(out, "peers.json")
    commit = commit_of(args.commit)  # before anything (PERF.md) changes the tree
    data = listing(args, out)
    attnc_results = run_attnc_bench(args, out)

    from peers import flex, gpu
    results = load_json(peers_path) if args.resume and os.path.exists(peers_path) else {}
    results.setdefault("cases", {})
    results.setdefault("layout_cases", {})
    results["meta"] = dict(gpu.machine(), date=datetime.date.today().isoformat(), commit=commit,
                           command=" ".join(shlex.quote(a) for a in ["python3", "bench/compare_peers.py"] + sys.argv[1:]),
                           iters=args.iters, warmup=args.warmup, sets=args.sets,
                           recompile_limit=flex.RECOMPILE_LIMIT, suite=args.suite)
    results["attnc"] = attnc_results
    try:
        flex_session = flex.Flex()
    except Exception as error:  # noqa: BLE001 -- every Flex entry then says why
        flex_session = "FlexAttention unavailable: " + gpu.first_line(error)
    attnc = os.path.abspath(tool(args, "attnc"))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="compare_peers.", dir=shm) as tmp:
        cases = selected(data.get("cases", []), args.filter)
        for n, case in enumerate(cases, 1):
            if results["cases"].get(case["id"], {}).get("done"):
                continue
            print(f"compare_peers: case {n}/{len(cases)} {case['id']}", flush=True)
            start = time.perf_counter()
            record = measure_case(args, case, flex_session, attnc, tmp)
            # The wall time of the case (compile, check, timings): what a
            # run's time limit has to cover.
            results["cases"][case["id"]] = dict(record, done=True, elapsed_s=time.perf_counter() - start)
            save_json(peers_path, results)
    for lcase in selected(data.get("layout_cases", []), args.filter):
        if results["layout_cases"].get(lcase["id"], {}).get("done"):
            continue
        print(f"compare_peers: layout case {lcase['id']}", flush=True)
        start = time.perf_counter()
        record = measure_layout_case(lcase, flex_session)
        results["layout_cases"][lcase["id"]] = dict(record, done=True, elapsed_s=time.perf_counter() - start)
        save_json(peers_path, results)
    save_json(peers_path, results)
    return results, peers_path


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.perf, args.chart = os.path.abspath(args.perf), (os.path.abspath(args.chart) if args.chart else None)
    if args.report_only:
        if not os.path.exists(args.report_only):
            fail(f"{args.report_only} not found")
        results, source = load_json(args.report_only), args.report_only
    else:
        args.suite, args.build = os.path.abspath(args.suite), os.path.abspath(args.build)
        args.out, args.resume = (os.path.abspath(p) if p else None for p in (args.out, args.resume))
        os.chdir(ROOT)  # the listing's pattern files are relative to the repository root
        results, source = run(args)
    message = report.write(results, args.perf, args.chart)
    print(f"compare_peers: results {source}; wrote {args.perf}"
          + (f" and {args.chart}" if args.chart and not message else ""), flush=True)
    if message:
        print(f"compare_peers: {message}", file=sys.stderr)
    failed = [cid for cid, rec in results.get("cases", {}).items()
              if rec.get("check", {}).get("passed") is False]
    if failed:
        print(f"compare_peers: CORRECTNESS CHECK FAILED for {len(failed)} case(s): {', '.join(failed)}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
