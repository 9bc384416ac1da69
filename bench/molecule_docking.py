"""Docking throughput and agreement: tg_molecule against dockstring's own ``target.dock()``.

Part ``speed``: same 10 ligands, same target (DRD2), same exhaustiveness (8),
one run. For tg_molecule every configuration starts cold (empty cache, new
worker processes that compute the Vina maps), so the times include that
overhead. Goals (issue 6): at least 3x dockstring's ligands per minute, a mean
absolute score difference under 0.5 kcal/mol, no docking process above 2 GB.

Part ``published``: the 24 (target, SMILES, score) tuples DOCKSTRING ships from
its dataset (``dockstring.dataset.random_dataset_tuples``), docked at
exhaustiveness 8 with default settings (memory limit scaled with the molecule)
but a wall-clock timeout of PUBLISHED_TIMEOUT_S: the scaled timeout counts wall
time, and on a shared machine with a load of 10 on 2 cores the 57-atom tuple 4
gets a fifth of a core; the CPU seconds of each docking are recorded.
Goals (issue 16): mean |difference| at most 0.3 kcal/mol, none refused.

Part ``memory``: aspirin docked on 10 targets in one process at exhaustiveness
1; goal (issue 16): under 3 GB resident in all (this process and its docking
processes), thanks to the cap on live docking processes.

Each part updates its own section of the results file.

    .venv/bin/python bench/molecule_docking.py [--part all|speed|published|memory]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

LIGANDS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "ibuprofen": "CC(C)Cc1ccc(cc1)C(C)C(=O)O",
    "nicotine": "CN1CCC[C@H]1c1cccnc1",
    "dopamine": "NCCc1ccc(O)c(O)c1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "clozapine": "CN1CCN(CC1)C1=Nc2cc(Cl)ccc2Nc2ccccc12",
    "haloperidol": "OC1(CCN(CCCC(=O)c2ccc(F)cc2)CC1)c1ccc(Cl)cc1",
    "risperidone": "Cc1nc2n(c(=O)c1CCN1CCC(c3noc4cc(F)ccc34)CC1)CCCC2",
}
TARGET = "DRD2"
EXHAUSTIVENESS = 8
PUBLISHED_TIMEOUT_S = 4 * 3600.0
RESULTS = Path(__file__).parent / "results" / "molecule_docking.json"


def _cpu_seconds() -> float:
    """CPU time of this process and of the subprocesses it waited for (obabel, Vina)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_dockstring() -> dict:
    """dockstring needs obabel on PATH (the venv's bin) and shells out to its Vina 1.1.2."""
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    from dockstring import load_target

    target = load_target(TARGET)
    scores, seconds, cpu_seconds = {}, {}, {}
    start = time.perf_counter()
    for name, smiles in LIGANDS.items():
        t, cpu = time.perf_counter(), _cpu_seconds()
        scores[name], _ = target.dock(smiles)
        seconds[name] = time.perf_counter() - t
        cpu_seconds[name] = _cpu_seconds() - cpu
        print(f"  dockstring {name:12s} {scores[name]:7.2f} kcal/mol {seconds[name]:6.1f} s "
              f"{cpu_seconds[name]:6.1f} cpu s", flush=True)
    wall = time.perf_counter() - start
    return {"scores": scores, "seconds": seconds, "cpu_seconds": cpu_seconds, "wall_s": wall,
            "ligands_per_min": 60 * len(LIGANDS) / wall,
            "ligands_per_cpu_min": 60 * len(LIGANDS) / sum(cpu_seconds.values())}


def run_tg_molecule(workers: int, cpu: int) -> dict:
    """A cold batch: a fresh cache folder and fresh worker and docking processes."""
    from tg_molecule import dock_many

    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["TG_CACHE_DIR"] = cache_dir
        start = time.perf_counter()
        results = dock_many(list(LIGANDS.values()), TARGET, workers=workers,
                            exhaustiveness=EXHAUSTIVENESS, cpu=cpu)
        wall = time.perf_counter() - start
    failed = {n: r.error for n, r in zip(LIGANDS, results, strict=True) if r.error}
    if failed:
        raise RuntimeError(f"tg_molecule failed on {failed}")
    scores = {n: r.vina for n, r in zip(LIGANDS, results, strict=True)}
    for name, r in zip(LIGANDS, results, strict=True):
        print(f"  tg_molecule {workers}x{cpu} {name:12s} {r.vina:7.2f} kcal/mol "
              f"{r.details['dock_seconds']:6.1f} s {r.details['dock_cpu_seconds']:6.1f} cpu s", flush=True)
    cpu_seconds = {n: r.details["dock_cpu_seconds"] for n, r in zip(LIGANDS, results, strict=True)}
    return {
        "workers": workers, "cpu_per_worker": cpu, "scores": scores,
        "dock_seconds": {n: r.details["dock_seconds"] for n, r in zip(LIGANDS, results, strict=True)},
        "dock_cpu_seconds": cpu_seconds,
        "ligands_per_cpu_min": 60 * len(LIGANDS) / sum(cpu_seconds.values()),
        "peak_rss_mb_per_docking_process": max(r.details["child_peak_rss_mb"] for r in results),
        "wall_s": wall, "ligands_per_min": 60 * len(LIGANDS) / wall,
    }


def run_published(workers: int = 2) -> dict:
    """The 24 shipped tuples, longest first, each worker releasing its docking process after each."""
    import concurrent.futures as cf
    import multiprocessing

    from dockstring.dataset import random_dataset_tuples

    load_at_start = list(os.getloadavg())
    tuples = list(enumerate(random_dataset_tuples))
    order = sorted(tuples, key=lambda t: -_size(t[1][1]))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["TG_CACHE_DIR"] = cache_dir
        with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_dock_tuple, target, smiles): i for i, (target, smiles, _) in order}
            found = {}
            for future in cf.as_completed(futures):
                i = futures[future]
                found[i] = future.result()
                target, smiles, published = random_dataset_tuples[i]
                r = found[i]
                shown = f"{r['vina']:7.2f}" if r["vina"] is not None else "refused"
                print(f"  tuple {i:2d} {target:9s} published {published:6.2f} ours {shown} "
                      f"{r['seconds']:7.1f} s {r['cpu_seconds'] or 0:7.1f} cpu s {r['error'] or ''}", flush=True)
    wall = time.perf_counter() - start
    rows = []
    for i, (target, smiles, published) in tuples:
        r = found[i]
        rows.append({"tuple": i, "target": target, "smiles": smiles, "published": published, **r,
                     "difference": None if r["vina"] is None else r["vina"] - published})
    scored = [r for r in rows if r["vina"] is not None]
    differences = [abs(r["difference"]) for r in scored]
    mae = sum(differences) / len(differences) if differences else None
    pearson = _pearson([r["vina"] for r in scored], [r["published"] for r in scored])
    refused = [r["tuple"] for r in rows if r["vina"] is None]
    print(f"\n{'tuple':>5s} {'target':9s} {'heavy':>5s} {'rot':>4s} {'published':>9s} {'ours':>7s} {'diff':>6s} "
          f"{'cpu s':>7s} {'peak MB':>8s} {'limit MB':>8s}")
    for r in rows:
        ours = f"{r['vina']:7.2f}" if r["vina"] is not None else "    ---"
        diff = f"{r['difference']:6.2f}" if r["difference"] is not None else "   ---"
        print(f"{r['tuple']:5d} {r['target']:9s} {r['heavy_atoms']:5d} {r['rotatable_bonds']:4d} "
              f"{r['published']:9.2f} {ours} {diff} {r['cpu_seconds'] or 0:7.1f} {r['peak_rss_mb'] or 0:8.0f} "
              f"{r['memory_mb'] or 0:8d}")
    if mae is not None:
        print(f"\nmean |difference| {mae:.3f} kcal/mol (goal <= 0.3), max {max(differences):.2f}, "
              f"Pearson {pearson:.3f}, refused or failed: {refused or 'none'}")
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "exhaustiveness": EXHAUSTIVENESS, "workers": workers, "wall_s": wall, "timeout_s": PUBLISHED_TIMEOUT_S,
        "load_average_at_start": load_at_start, "load_average_at_end": list(os.getloadavg()),
        "tuples": rows, "mean_abs_difference": mae,
        "max_abs_difference": max(differences) if differences else None, "pearson": pearson,
        "refused_or_failed": refused,
        "goals": {"mean_abs_difference_at_most_0.3": mae is not None and mae <= 0.3,
                  "none_refused": not refused},
    }


def _size(smiles: str) -> int:
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    from tg_molecule.settings import search_work

    mol = Chem.MolFromSmiles(smiles)
    return search_work(mol.GetNumHeavyAtoms(), rdMolDescriptors.CalcNumRotatableBonds(mol))


def _dock_tuple(target: str, smiles: str) -> dict:
    """One tuple in a pool worker: default settings, exhaustiveness 8, then its docking process stopped."""
    import tg_molecule

    start = time.perf_counter()
    r = tg_molecule.evaluate(smiles, target, exhaustiveness=EXHAUSTIVENESS, timeout_s=PUBLISHED_TIMEOUT_S)
    tg_molecule.release_targets()
    return {"vina": r.vina, "error": r.error, "seconds": time.perf_counter() - start,
            "cpu_seconds": r.details.get("dock_cpu_seconds"),
            "heavy_atoms": r.properties.get("heavy_atoms", 0), "rotatable_bonds": r.properties.get("rotatable_bonds", 0),
            "peak_rss_mb": r.details.get("child_peak_rss_mb"), "memory_mb": r.settings.get("memory_mb"),
            "scaled_timeout_s": tg_molecule.DockingSettings(exhaustiveness=EXHAUSTIVENESS).for_molecule(
                r.properties.get("heavy_atoms", 0), r.properties.get("rotatable_bonds", 0)).timeout_s}


def _pearson(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / (sxx * syy) ** 0.5


def run_memory(count: int = 10) -> dict:
    """Aspirin on ``count`` targets in this process; resident memory of it and its docking processes."""
    import tg_molecule

    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["TG_CACHE_DIR"] = cache_dir
        per_target = []
        for target in tg_molecule.targets()[:count]:
            ok = tg_molecule.evaluate(LIGANDS["aspirin"], target, exhaustiveness=1).ok
            per_target.append({"target": target, "ok": ok, "total_rss_mb": _family_rss_mb()})
            print(f"  {target:9s} ok={ok} resident in all {per_target[-1]['total_rss_mb']:.0f} MB", flush=True)
        tg_molecule.release_targets()
    peak = max(p["total_rss_mb"] for p in per_target)
    from tg_molecule.docking_client import DEFAULT_MAX_CHILDREN

    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "targets": per_target,
            "max_docking_processes": DEFAULT_MAX_CHILDREN, "peak_total_rss_mb": peak,
            "goals": {"under_3GB_for_10_targets": peak < 3072}}


def _family_rss_mb() -> float:
    """Resident memory of this process and its children, from /proc."""
    me = os.getpid()
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(stat.rpartition(")")[2].split()[1])
        if pid == me or ppid == me:
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total / 1024


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "speed", "published", "memory"), default="all")
    part = parser.parse_args().part
    report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"benchmark": "molecule_docking"}
    if part in ("all", "speed"):
        report.update(run_speed())
    if part in ("all", "published"):
        report["published_tuples"] = run_published()
    if part in ("all", "memory"):
        report["memory_10_targets"] = run_memory()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {RESULTS}")


def run_speed() -> dict:
    load_at_start = list(os.getloadavg())
    print(f"{len(LIGANDS)} ligands on {TARGET}, exhaustiveness {EXHAUSTIVENESS}", flush=True)
    dockstring = run_dockstring()
    configs = [run_tg_molecule(1, 1), run_tg_molecule(2, 1), run_tg_molecule(1, 2)]
    reference = configs[0]["scores"]
    differences = {n: reference[n] - dockstring["scores"][n] for n in LIGANDS}
    mae = sum(abs(d) for d in differences.values()) / len(differences)
    peak = max(c["peak_rss_mb_per_docking_process"] for c in configs)
    same_scores_1_vs_2_workers = configs[0]["scores"] == configs[1]["scores"]
    best_rate = max(c["ligands_per_min"] for c in configs)

    print(f"\n{'ligand':12s} {'dockstring':>10s} {'tg 1x1':>8s} {'tg 2x1':>8s} {'tg 1x2':>8s} {'diff':>6s}")
    for n in LIGANDS:
        row = [dockstring["scores"][n], *(c["scores"][n] for c in configs), differences[n]]
        print(f"{n:12s} " + " ".join(f"{v:{w}.2f}" for v, w in zip(row, (10, 8, 8, 8, 6), strict=True)))
    print(f"\n{'configuration':32s} {'wall s':>8s} {'lig/min':>8s} {'vs dockstring':>14s} "
          f"{'lig/cpu-min':>12s} {'vs dockstring':>14s}")
    print(f"{'dockstring target.dock()':32s} {dockstring['wall_s']:8.1f} {dockstring['ligands_per_min']:8.2f} "
          f"{1:14.2f} {dockstring['ligands_per_cpu_min']:12.2f} {1:14.2f}")
    for c in configs:
        label = f"tg_molecule {c['workers']} worker(s) x {c['cpu_per_worker']} cpu"
        ratio = c["ligands_per_min"] / dockstring["ligands_per_min"]
        cpu_ratio = c["ligands_per_cpu_min"] / dockstring["ligands_per_cpu_min"]
        print(f"{label:32s} {c['wall_s']:8.1f} {c['ligands_per_min']:8.2f} {ratio:14.2f} "
              f"{c['ligands_per_cpu_min']:12.2f} {cpu_ratio:14.2f}")
    print(f"\nmean |score difference| vs dockstring (1x1): {mae:.3f} kcal/mol (goal < 0.5)")
    print(f"peak RSS of a docking process: {peak:.0f} MB (goal < 2048)")
    print(f"same scores with 1 and 2 workers: {same_scores_1_vs_2_workers}")

    return {
        "benchmark": "molecule_docking",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": platform.python_version()},
        "target": TARGET, "exhaustiveness": EXHAUSTIVENESS, "ligands": LIGANDS,
        "dockstring": dockstring,
        "tg_molecule": configs,
        "score_difference_tg_minus_dockstring": differences,
        "mean_abs_score_difference": mae,
        "same_scores_1_vs_2_workers": same_scores_1_vs_2_workers,
        "speedup_vs_dockstring": {f"{c['workers']}x{c['cpu_per_worker']}": c["ligands_per_min"] / dockstring["ligands_per_min"] for c in configs},
        "cpu_time_speedup_vs_dockstring": {f"{c['workers']}x{c['cpu_per_worker']}": c["ligands_per_cpu_min"] / dockstring["ligands_per_cpu_min"] for c in configs},
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
        "scaling_2_workers_vs_1": configs[1]["ligands_per_min"] / configs[0]["ligands_per_min"],
        "peak_rss_mb_docking_process": peak,
        "goals": {
            "speedup_at_least_3x": best_rate / dockstring["ligands_per_min"] >= 3,
            "mean_abs_difference_below_0.5": mae < 0.5,
            "docking_process_below_2GB": peak < 2048,
        },
    }


if __name__ == "__main__":
    main()
