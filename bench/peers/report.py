"""The report of compare_peers.py: a block of docs/PERF.md and a PNG chart,
from the saved results (peers.json). Needs neither torch nor a GPU; the chart
needs matplotlib.

peers.json: {"meta": {date, gpu, driver, cuda, torch, commit, command, ...},
"attnc": attnc-bench's JSON (or {"error": ...}), "cases": {id: {"case": the
listing's case, "flex"|"cudnn"|"flash": {fwd_ms, bwd_ms, ...} or {"not_run":
reason}, "check": {...}}}, "layout_cases": {id: {"case": ..., "flex": ...}}}.
"""
import math
import os
import re

BEGIN = "<!-- compare_peers:begin -->"
END = "<!-- compare_peers:end -->"
PEERS = [("flex", "Flex"), ("cudnn", "cuDNN"), ("flash", "flash")]
FLOP_FACTOR = {"fwd": 1.0, "bwd": 2.5, "fwdbwd": 3.5}  # times 4 * D * pairs


def useful_tflops(pairs, D, ms, direction):
    if not pairs or not ms:
        return None
    return 4.0 * D * pairs * FLOP_FACTOR[direction] / (ms * 1e-3) / 1e12


class Notes:
    """Numbered reasons, each written once below the tables."""
    def __init__(self):
        self.reasons = []

    def ref(self, reason):
        if reason not in self.reasons:
            self.reasons.append(reason)
        return f"[{self.reasons.index(reason) + 1}]"

    def markdown(self):
        return "\n".join(f"[{n}] {reason}  " for n, reason in enumerate(self.reasons, 1))


def _ms(x):
    return "–" if x is None else f"{x:.3f}"


def _num(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


def _ratio(peer_ms, attnc_ms):
    if not peer_ms or not attnc_ms:
        return None
    return peer_ms / attnc_ms


def attnc_cases(results):
    """attnc-bench's results by case id ({} when it did not run)."""
    return {c["id"]: c for c in (results.get("attnc") or {}).get("cases", [])}


def attnc_layouts(results):
    return {c["id"]: c for c in (results.get("attnc") or {}).get("layout_cases", [])}


def records(results, key):
    """(id, peers' record) of every case of results[key] and of attnc-bench's
    results, in attnc-bench's order: a case attnc measured but the peers did
    not (a run cut short) gets a record without peers, shown as not measured
    instead of being left out."""
    peers = results.get(key, {})
    by_id = {c["id"]: c for c in (results.get("attnc") or {}).get(key, [])}
    ids = list(by_id) + [cid for cid in peers if cid not in by_id]
    return [(cid, peers.get(cid) or {"case": by_id[cid]}) for cid in ids]


def peer_state(record, notes, peer_label):
    """(ran, cell text for a failure) of one peer's record."""
    if record is None:
        return False, "not measured " + notes.ref("not measured: the run stopped before this case (see --resume)")
    if "not_run" in record:
        reason = record["not_run"]
        return False, "n/a " + notes.ref(reason if reason.startswith("not supported by") else f"{peer_label}: {reason}")
    if "error" in record:
        return False, "error " + notes.ref(f"{peer_label}: {record['error']}")
    return True, ""


def attnc_state(attnc, results, notes):
    if attnc is None:
        why = (results.get("attnc") or {}).get("error") or "attnc-bench has no result for this case"
        return False, "n/a " + notes.ref(f"attnc: {why}")
    if attnc.get("error"):
        return False, "error " + notes.ref(f"attnc: {attnc['error']}")
    return True, ""


def check_cell(check, notes):
    if not check:
        return "not checked " + notes.ref("check: the run stopped before this case")
    if "not_checked" in check:
        return "not checked " + notes.ref(f"check: {check['not_checked']}")
    if "error" in check:
        return f"**FAIL**: {check['error']}"
    errors = check["errors"]
    worst = max(errors, key=lambda name: errors[name] / check["tolerance"][name])
    text = f"{worst} {errors[worst]:.1e}"
    if check["passed"]:
        return f"pass (worst {text})"
    bad = [name for name in errors if not errors[name] <= check["tolerance"][name]]
    return "**FAIL** (" + ", ".join(f"{n} {errors[n]:.1e} > {check['tolerance'][n]:g}" for n in bad) + ")"


def speed_rows(results, notes):
    attnc_by_id = attnc_cases(results)
    rows = []
    for cid, rec in records(results, "cases"):
        attnc = attnc_by_id.get(cid)
        ok, why = attnc_state(attnc, results, notes)
        row = [f"`{cid}`"]
        if ok:
            row += [f"{_ms(attnc.get('fwd_ms'))} / {_ms(attnc.get('bwd_ms'))}",
                    f"{_num(attnc.get('fwd_tflops'))} / {_num(attnc.get('bwd_tflops'))}"]
        else:
            row += [why, why]
        pairs, D = (attnc or {}).get("pairs"), int(rec["case"]["D"])
        for key, label in PEERS:
            ran, pwhy = peer_state(rec.get(key), notes, label)
            if not ran:
                row += [pwhy] if key != "flex" else [pwhy, pwhy]
                continue
            peer = rec[key]
            row.append(f"{_ms(peer.get('fwd_ms'))} / {_ms(peer.get('bwd_ms'))}")
            if key == "flex":
                row.append(f"{_num(useful_tflops(pairs, D, peer.get('fwd_ms'), 'fwd'))} / "
                           f"{_num(useful_tflops(pairs, D, peer.get('bwd_ms'), 'bwd'))}")
        flex = rec.get("flex") or {}
        for direction in ("fwd", "bwd"):
            r = _ratio(flex.get(f"{direction}_ms"), (attnc or {}).get(f"{direction}_ms") if ok else None)
            row.append("–" if r is None else f"{r:.2f}")
        rows.append(row)
    return rows


def _with_flex(results, key, by_id, notes):
    """(id, attnc cell text or None when it ran, attnc record, Flex cell text
    or None when it ran, Flex record, record) of each case of results[key]."""
    for cid, rec in records(results, key):
        attnc = by_id.get(cid)
        ok, why = attnc_state(attnc, results, notes)
        flex = rec.get("flex")
        fran, fwhy = peer_state(flex, notes, "Flex")
        yield cid, (None if ok else why), attnc, (None if fran else fwhy), flex, rec


def setup_rows(results, notes):
    return [[f"`{cid}`",
             why or f"{_ms(attnc.get('layout_fwd_ms'))} / {_ms(attnc.get('layout_train_ms'))}",
             fwhy or _ms(flex.get("block_mask_ms")),
             why or _num(attnc.get("compile_cold_s"), 2),
             fwhy or _num(flex.get("compile_s"), 2),
             check_cell(rec.get("check"), notes)]
            for cid, why, attnc, fwhy, flex, rec in _with_flex(results, "cases", attnc_cases(results), notes)]


def layout_rows(results, notes):
    return [[f"`{cid}`",
             why or f"{_ms(attnc.get('layout_fwd_ms'))} / {_ms(attnc.get('layout_train_ms'))}",
             fwhy or f"{_ms(flex.get('block_mask_ms'))} (first {_num(flex.get('block_mask_first_s'), 2)} s)"]
            for cid, why, attnc, fwhy, flex, rec in _with_flex(results, "layout_cases", attnc_layouts(results), notes)]


def behind(results, count=5):
    """The `count` cases with the lowest best-peer time / attnc time, on fwd+bwd."""
    attnc_by_id = attnc_cases(results)
    entries = []
    for cid, rec in results.get("cases", {}).items():
        attnc = attnc_by_id.get(cid) or {}
        if attnc.get("error") or not attnc.get("fwdbwd_ms"):
            continue
        times = [(rec[key]["fwdbwd_ms"], label) for key, label in PEERS
                 if isinstance(rec.get(key), dict) and rec[key].get("fwdbwd_ms")]
        if times:
            best, label = min(times)
            entries.append((best / attnc["fwdbwd_ms"], cid, attnc["fwdbwd_ms"], best, label))
    return sorted(entries)[:count]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def build_block(results, chart_link=None):
    meta = results.get("meta", {})
    notes = Notes()
    out = [BEGIN, f"## attnc against its peers ({meta.get('date', '?')}, {meta.get('gpu', '?')})", ""]
    out.append("Written by `bench/compare_peers.py` (bench/README.md); do not edit this "
               "block by hand, rerun the script or its `--report-only`.")
    out.append("")
    out.append(f"GPU {meta.get('gpu', '?')}, driver {meta.get('driver', '?')}, CUDA {meta.get('cuda', '?')}, "
               f"torch {meta.get('torch', '?')}, attnc commit {meta.get('commit', '?')}. Command, "
               "from the repository root:")
    out += ["", f"    {meta.get('command', '?')}", ""]
    out.append(
        "Times are medians of CUDA-event timings after warm-up, inputs rotated over several sets. "
        f"Peers: {meta.get('iters', '?')} runs after {meta.get('warmup', '?')} warm-up, "
        f"{meta.get('sets', '?')} input sets; FlexAttention compiled once with torch.compile"
        "(dynamic=False), dynamo's recompile limits raised to "
        f"{meta.get('recompile_limit', '?')} so that every case is compiled; bwd = "
        "`torch.autograd.grad` after an untimed forward. Useful TFLOP/s count the attended "
        "pairs as attnc-bench does (4·D·pairs forward, 2.5× backward) for every system. "
        "Flex/attnc > 1 means attnc is faster. The check compares attnc's O, LSE, dQ, dK, dV with "
        "Flex's on the same inputs (relative error ‖attnc − Flex‖ / ‖Flex‖; tolerance O, LSE "
        "2e-2 bf16 / 5e-3 fp16, gradients 3e-2 / 1e-2, as attnc's GPU tests).")
    out.append("")
    failed = [cid for cid, rec in results.get("cases", {}).items()
              if (rec.get("check") or {}).get("passed") is False]
    if failed:
        out += ["**Correctness check failed** (still timed): " + ", ".join(f"`{c}`" for c in failed), ""]
    out += ["### Speed", ""]
    out.append(table(["case", "attnc fwd / bwd ms", "attnc TFLOP/s fwd / bwd", "Flex fwd / bwd ms",
                      "Flex TFLOP/s fwd / bwd", "cuDNN fwd / bwd ms", "flash fwd / bwd ms",
                      "Flex/attnc fwd", "Flex/attnc bwd"], speed_rows(results, notes)))
    out += ["", "### Setup and correctness", ""]
    out.append(table(["case", "attnc layout fwd / train ms", "Flex block mask ms", "attnc cold compile s",
                      "Flex compile s", "check"], setup_rows(results, notes)))
    if records(results, "layout_cases"):
        out += ["", "### Layout build at large N", ""]
        out.append(table(["case", "attnc layout fwd / train ms", "Flex block mask ms"],
                         layout_rows(results, notes)))
    out += ["", "### Furthest behind", "",
            "The cases with the lowest best-peer time / attnc time, forward + backward:", ""]
    entries = behind(results)
    out += [f"{n}. `{cid}`: attnc {a:.3f} ms, {label} {b:.3f} ms: {r:.2f}"
            for n, (r, cid, a, b, label) in enumerate(entries, 1)] or ["(no case has both numbers)"]
    if chart_link:
        out += ["", f"![attnc against its peers]({chart_link})"]
    if notes.reasons:
        out += ["", "Not run or failed:", "", notes.markdown()]
    out.append(END)
    return "\n".join(out) + "\n"


def update_perf(path, block):
    """Replaces the marked block of the file, or inserts it before the first
    `## ` section (after the title and introduction); the rest is kept."""
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Performance measurements\n"
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        if end < len(text) and text[end] == "\n":
            end += 1
        text = text[:start] + block + text[end:]
    else:
        match = re.search(r"^## ", text, flags=re.MULTILINE)
        at = match.start() if match else len(text)
        prefix = text[:at] if text[:at].endswith("\n\n") or not text[:at] else text[:at].rstrip("\n") + "\n\n"
        text = prefix + block + ("\n" + text[at:] if match else "")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def chart(results, path):
    """Grouped bars of Flex/attnc and cuDNN/attnc time ratios, fwd and bwd, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    attnc_by_id = attnc_cases(results)
    by_id = dict(records(results, "cases"))
    ids = list(by_id)
    series = []
    for key, label in [("flex", "Flex"), ("cudnn", "cuDNN")]:
        for direction in ("fwd", "bwd"):
            values = []
            for cid in ids:
                peer = by_id[cid].get(key) or {}
                attnc = attnc_by_id.get(cid) or {}
                r = None if attnc.get("error") else _ratio(peer.get(f"{direction}_ms"), attnc.get(f"{direction}_ms"))
                values.append(r if r else math.nan)
            if any(not math.isnan(v) for v in values):
                series.append((f"{label}/attnc {direction}", values))
    meta = results.get("meta", {})
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * len(ids) + 3), 5.5))
    width = 0.8 / max(1, len(series))
    for n, (label, values) in enumerate(series):
        # Bars from 1 up or down to the ratio, so that a peer ahead points down.
        ax.bar([x + (n - (len(series) - 1) / 2) * width for x in range(len(ids))],
               [v - 1 for v in values], width, bottom=1.0, label=label)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    finite = [v for _, values in series for v in values if not math.isnan(v)]
    ax.set_ylim(min([0.5] + finite) / 1.2, max([2.0] + finite) * 1.2)
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=2))
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for x, cid in enumerate(ids):
        if all(math.isnan(values[x]) for _, values in series):
            ax.text(x, 1.0, "no ratio", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(len(ids)))
    ax.set_xticklabels(ids, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("peer time / attnc time (> 1: attnc faster)")
    ax.set_title(f"attnc against its peers: {meta.get('gpu', '?')}, {meta.get('date', '?')}, "
                 f"torch {meta.get('torch', '?')}, commit {meta.get('commit', '?')}", fontsize=9)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(results, perf_path, chart_path):
    """Writes the chart (when matplotlib is there) and the PERF.md block;
    returns a message about the chart when it could not be drawn."""
    message = None
    link = None
    if chart_path:
        try:
            chart(results, chart_path)
            link = os.path.relpath(os.path.abspath(chart_path), os.path.dirname(os.path.abspath(perf_path)))
        except ImportError as error:
            message = f"no chart: {error} (install python3-matplotlib)"
    update_perf(perf_path, build_block(results, link))
    return message
