"""The one table bench/llama_cpp.py prints, and the issue's goals checked against it.

Per row (an engine and its weights): bytes read per token and the tok/s the measured memory
bandwidth allows at most; then per thread setting (each equal count, and each tool's default):
decode tok/s, the ratio to llama.cpp with the same kind of weights, time to first token (for
llama.cpp: its pp32 prompt time), Studio's TTFT over llama.cpp's prompt time, and Studio's
overhead over a bare onnxruntime loop on the same session (bare/ours tok/s - 1).
"""

from __future__ import annotations

import os


def _f(value, spec: str, width: int) -> str:
    return f"{value:{spec}}".rjust(width) if value is not None else "-".rjust(width)


def render(rows, samples: dict, bandwidth: float, median, goals: dict) -> tuple[list[str], dict]:
    llama_default, studio_default = samples["llama_default"], samples["studio_default"]
    columns = [(f"{t} thread{'s' if t > 1 else ''}", t, t) for t in samples["explicit"]]
    columns.append((f"default (llama.cpp {llama_default or '-'}, Studio {studio_default})", llama_default, studio_default))

    def threads_for(engine: str, column) -> int | None:
        return column[1] if engine == "llama" else column[2]

    def rate(row, engine, column, kind=None):
        kind = kind or ("llama" if engine == "llama" else "ours")
        return median(samples, row, threads_for(engine, column), kind, "tokens_per_s")

    def ttft(row, engine, column):
        return median(samples, row, threads_for(engine, column), "llama" if engine == "llama" else "ours", "ttft_s")

    group = "  tok/s  x l.cpp  TTFT ms  x pp32   +bare"
    head1 = f"{'':<30} {'MB read':>8} {'limit':>6} |" + "|".join(f" {name:<{len(group) - 1}}" for name, _, _ in columns)
    head2 = f"{'engine, weights':<30} {'per tok':>8} {'tok/s':>6} |" + "|".join(group for _ in columns)
    lines = [head1, head2, "-" * len(head2)]
    verdicts: dict = {}
    for row, engine, _, _, versus in rows:
        size = samples["bytes"].get(row)
        limit = bandwidth * 1e9 / size[1] if size else None
        cells = []
        for column in columns:
            ours = rate(row, engine, column)
            ratio = ours / rate(versus, "llama", column) if ours and rate(versus, "llama", column) else None
            first = ttft(row, engine, column)
            pp = ttft(versus, "llama", column)
            bare = rate(row, engine, column, "bare") if engine == "studio" else None
            overhead = bare / ours - 1 if bare and ours else None
            cells.append(f"{_f(ours, '.1f', 7)}{_f(ratio if engine == 'studio' else None, '.2f', 9)}"
                         f"{_f(first * 1e3 if first else None, '.0f', 9)}"
                         f"{_f(first / pp if engine == 'studio' and first and pp else None, '.2f', 8)}"
                         f"{_f(overhead * 100 if overhead is not None else None, '+.1f', 7)}{'%' if overhead is not None else ' '}")
            verdicts[(row, column[0])] = {"rate": ours, "ratio": ratio, "ttft_vs_pp": first / pp if first and pp else None,
                                          "overhead": overhead}
        missing = samples["missing"].get(row)
        text = f"{row:<30} {_f(size[1] / 1e6 if size else None, '.1f', 8)} {_f(limit, '.1f' if limit and limit < 1000 else '.0f', 6)} |" + "|".join(cells)
        lines.append(text if not missing else f"{row:<30} not measured: {missing}")
    bw = f"memory bandwidth {bandwidth:.1f} GB/s (numpy copy, one core, best of before and after the rounds); limit = bandwidth / bytes read per token"
    load = "; ".join(f"{t} thread{'s' if t > 1 else ''} {min(v):.1f}-{max(v):.1f}" for t, v in samples.get("load", {}).items())
    lines += ["-" * len(head2), bw + (f"; load average (1 min) while measuring: {load} on {os.cpu_count()} cores" if load else ""),
              "x l.cpp: Studio tok/s over llama.cpp's with the same kind of weights (q4/int4 vs Q4_0, int8 vs Q8_0, fp32 vs f32); "
              "TTFT of llama.cpp = its pp32 time; x pp32: Studio TTFT over it; +bare: bare onnxruntime loop tok/s over Studio's - 1"]
    files: dict[str, set] = {}
    for info in samples.get("studio", {}).values():
        for row, model in info.get("models", {}).items():
            files.setdefault(row, set()).add(model.get("file"))
    changed = sorted(row for row, names in files.items() if len(names) > 1)
    if changed:  # Studio's code changed between two workers: say so rather than mix silently
        lines.append(f"note: Studio ran different files for {', '.join(changed)} at different thread settings "
                     "(its copy was made anew between them): those columns measure different graphs")
    lines += goal_lines(rows, verdicts, columns, goals)
    return lines, {f"{k[0]} @ {k[1]}": v for k, v in verdicts.items()}


def goal_lines(rows, verdicts: dict, columns, goals: dict) -> list[str]:
    lines = ["goals (issue 13 part 4):"]
    for row in [r[0] for r in rows if r[1] == "studio" and r[4] == "llama.cpp Q4_0"]:
        figures = [(name, verdicts.get((row, name), {})) for name, _, _ in columns]
        if all(v.get("rate") is None for _, v in figures):
            continue
        equal = [(n, v["ratio"]) for n, v in figures[:-1] if v.get("ratio") is not None]
        default = figures[-1][1].get("ratio")
        if not equal and default is None:
            lines.append(f"  {row}: no llama.cpp figures to compare with")
            continue
        lines.append(f"  {row}: >= {goals['equal']}x llama.cpp Q4_0 at equal threads: "
                     + ", ".join(f"{n} {r:.2f}x" for n, r in equal) + f" -> {_met(equal and all(r >= goals['equal'] for _, r in equal))}; "
                     f">= {goals['default']}x at each default: " + (f"{default:.2f}x -> {_met(default >= goals['default'])}" if default else "-"))
        over = [(n, v["overhead"]) for n, v in figures if v.get("overhead") is not None]
        ttft = [(n, v["ttft_vs_pp"]) for n, v in figures if v.get("ttft_vs_pp") is not None]
        lines.append(f"    <= {goals['overhead'] * 100:.0f} % over a bare onnxruntime loop: " + ", ".join(f"{n} {o * 100:+.1f} %" for n, o in over)
                     + f" -> {_met(over and all(o <= goals['overhead'] for _, o in over))}; TTFT <= llama.cpp pp32 time: "
                     + ", ".join(f"{n} {t:.2f}x" for n, t in ttft) + f" -> {_met(ttft and all(t <= 1.0 for _, t in ttft))}")
    return lines


def _met(ok) -> str:
    return "met" if ok else "NOT met"
