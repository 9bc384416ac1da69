"""What every task's report says about its optimization: scores per step, best value, counts, a plot.

Built from the loop's step records alone, so a resumed run reports the same
as an uninterrupted one, and every task reports progress the same way.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from .loop import Optimization, Track, fmt_score

INVALID_KINDS = {"malformed", "cut", "repeating", "constraint"}


def _counts(track: Track) -> dict[str, int]:
    counts = {"proposed": 0, "invalid": 0, "repaired": 0, "derived": 0, "resampled": 0, "unchanged": 0,
              "accepted": 0, "stalled_steps": 0}
    for record in track.history:
        candidates, rejections = record.get("candidates", []), record.get("rejections", [])
        repaired = sum(r["kind"] == "repaired" for r in rejections)  # each also became a candidate
        derived = sum(bool(c.get("derived")) for c in candidates)  # made by the program, not proposed
        resampled = sum(bool(c.get("resampled")) for c in candidates)  # drawn anew, not proposed
        counts["proposed"] += len(candidates) - derived - resampled + len(rejections) - repaired
        counts["repaired"] += repaired
        counts["derived"] += derived
        counts["resampled"] += resampled
        counts["invalid"] += sum(r["kind"] in INVALID_KINDS for r in rejections)
        counts["invalid"] += sum(c["score"] is None for c in candidates) if track.objective.score else 0
        counts["unchanged"] += sum(r["kind"] == "tried" for r in rejections)
        counts["accepted"] += bool(record.get("accepted"))
        counts["stalled_steps"] += bool(record.get("stalled"))
    return counts


def track_summary(track: Track) -> dict[str, Any]:
    """JSON-able progress of one parameter: start and best score, score after each step, counts."""
    best = list(track.best_score) if track.best_score else None
    # with no step finished (a budget spent in step 1) the start was still measured: it is the best
    start = track.history[0]["score"] if track.history else (best if track.best_step == 0 else None)
    return {
        "start_value": track.history[0]["value"] if track.history else track.best_value,
        "start_score": start,
        "best_value": track.best_value,
        "best_score": best,
        "best_step": track.best_step,
        "improved": best is not None and (start is None or best > start),
        "changed": bool(track.history) and track.best_value != track.history[0]["value"],
        "score_per_step": [{"step": r["step"], "best_score": r["best_score"]} for r in track.history],
        "counts": _counts(track),
    }


def summary(opt: Optimization) -> dict[str, Any]:
    return {
        "stopped": opt.stopped or "ran every step",
        "parameters": {t.name: track_summary(t) for t in opt.tracks},
    }


def verdict(track: Track) -> str:
    """One line a user reads first: did the search get anywhere, and if not, why."""
    s = track_summary(track)
    names = track.objective.score_names
    if track.history and track.history[0].get("done"):
        return f"the start already meets the objective ({fmt_score(s['start_score'], names)}): nothing to optimize"
    if s["improved"]:
        return (f"improved from {fmt_score(s['start_score'], names)} to {fmt_score(s['best_score'], names)} "
                f"(best at step {s['best_step']})")
    if s["changed"]:
        return f"changed without a better score ({fmt_score(s['best_score'], names)}); no measured improvement"
    c = s["counts"]
    return (f"WARNING: no improvement over the start ({fmt_score(s['start_score'], names)}): "
            f"{c['proposed']} proposals, {c['invalid']} invalid, {c['unchanged']} already tried, "
            f"{c['stalled_steps']} stalled step(s)")


def _origin(candidate: dict[str, Any]) -> str:
    """Where a candidate came from, when not from the optimizer."""
    return " (derived)" if candidate.get("derived") else (" (resampled)" if candidate.get("resampled") else "")


def markdown(opt: Optimization) -> str:
    """The progress section of report.md: a verdict and a table per parameter."""
    lines = ["## Progress", ""]
    if opt.stopped:
        lines += [f"Stopped early: {opt.stopped}.", ""]
    for track in opt.tracks:
        names = track.objective.score_names
        lines += [f"### {track.name}: {verdict(track)}", ""]
        lines += ["| step | score at start of step | candidates (score) | rejected answers | accepted | stalled |",
                  "|---:|---|---|---|---|---|"]
        for r in track.history:
            cands = "; ".join(f"{fmt_score(c['score'], names)}{_origin(c)}{' (kept)' if c['accepted'] else ''}"
                              for c in r.get("candidates", [])) or "-"
            kinds: dict[str, int] = {}
            for rej in r.get("rejections", []):
                kinds[rej["kind"]] = kinds.get(rej["kind"], 0) + 1
            rejected = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "-"
            state = "done" if r.get("done") else ("yes" if r.get("accepted") else "no")
            lines.append(f"| {r['step']} | {fmt_score(r['score'], names)} | {cands} | {rejected} | {state} | "
                         f"{'**stalled**' if r.get('stalled') else ''} |")
        paced = [f"step {r['step']} asked {r['paced']['candidates']} of {r['paced']['wanted']}"
                 for r in track.history if r.get("paced")]
        if paced:
            lines += ["", f"Candidates paced to the call budget: {'; '.join(paced)}."]
        s = track_summary(track)
        lines += ["", f"Best value (step {s['best_step']}, {fmt_score(s['best_score'], names)}):", "",
                  "```", track.best_value, "```", ""]
    return "\n".join(lines)


def score_plot_svg(opt: Optimization, path: Path) -> Path:
    """Best score against the step, one panel per score component (plain SVG, no dependency)."""
    panels = []
    for track in opt.tracks:
        points = [(0, track.history[0]["score"])] if track.history else []
        points += [(r["step"], r["best_score"]) for r in track.history]
        points = [(x, y) for x, y in points if y is not None]
        width = max((len(y) for _, y in points), default=0)
        for i in range(width):
            name = list(track.objective.score_names)[i] if i < len(track.objective.score_names) else str(i)
            panels.append((f"{track.name}: {name}", [(x, y[i]) for x, y in points]))
    w, h, pad = 420, 160, 36
    body = []
    for n, (title, pts) in enumerate(panels):
        top = n * h
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        x0, x1 = min(xs), max(max(xs), min(xs) + 1)
        y0, y1 = min(ys), max(ys)
        y1 = y1 if y1 > y0 else y0 + 1
        sx = lambda x, a=x0, b=x1: pad + (w - 2 * pad) * (x - a) / (b - a)  # noqa: E731
        sy = lambda y, a=y0, b=y1, t=top: t + h - pad + (2 * pad - h) * (y - a) / (b - a)  # noqa: E731
        poly = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        body.append(f'<text x="{pad}" y="{top + 16}" font-size="12">{escape(title)} (best so far)</text>')
        body.append(f'<rect x="{pad}" y="{top + pad - 12}" width="{w - 2 * pad}" height="{h - 2 * pad + 12}" '
                    'fill="none" stroke="#ccc"/>')
        body.append(f'<polyline points="{poly}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
        body += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="#1f77b4"/>' for x, y in pts]
        body.append(f'<text x="{pad}" y="{top + h - 8}" font-size="10">step {x0} .. {x1}; '
                    f'{escape(f"{y0:.4g}")} .. {escape(f"{y1:.4g}")}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{max(h, h * len(panels))}">'
           + "".join(body) + "</svg>\n")
    path.write_text(svg, encoding="utf-8")
    return path
