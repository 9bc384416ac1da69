"""The docking process: Vina maps of one target computed once, then ligands one by one.

Started by ``docking_client`` as ``python -m tg_molecule.docking_child``. It
limits its own address space first, so a runaway ligand fails here and not in
the caller. Requests and replies are JSON lines on stdin and on a private
copy of stdout; file descriptor 1 itself is pointed at stderr, so whatever
Vina or Open Babel print never corrupts a reply (the parent logs stderr).
The process ends when stdin closes, that is when its parent goes away.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any, TextIO

from vina import Vina

from .errors import DockingError
from .ligand import prepare_ligand
from .receptors import receptor_path, search_box

# Vina's command-line defaults, which DOCKSTRING uses: 9 poses within 3 kcal/mol of the best.
POSES = 9
ENERGY_RANGE = 3.0


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _replies_channel() -> TextIO:
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Docker:
    """One Vina instance with the target's maps, docking any number of ligands.

    Vina reads seed 0 as "pick a random seed", which would make every docking
    process score differently; it receives ``seed + 1`` so that every seed,
    0 included, is a fixed one. Conformers are embedded with ``seed`` itself.
    """

    def __init__(self, target: str, seed: int, cpu: int) -> None:
        self.seed = seed
        box = search_box(target)
        self.vina = Vina(sf_name="vina", cpu=cpu, seed=seed + 1, verbosity=0)
        self.vina.set_receptor(str(receptor_path(target)))
        self.vina.compute_vina_maps(center=list(box.center), box_size=list(box.size))

    def dock(self, smiles: str, exhaustiveness: int) -> dict[str, Any]:
        ligand = prepare_ligand(smiles, self.seed)
        try:
            self.vina.set_ligand_from_string(ligand.pdbqt)
        except (TypeError, RuntimeError) as exc:  # e.g. an atom type Vina does not know
            raise DockingError(f"Vina rejects the prepared ligand {smiles!r}: {exc}") from None
        self.vina.dock(exhaustiveness=exhaustiveness, n_poses=POSES)
        energies = self.vina.energies(n_poses=POSES, energy_range=ENERGY_RANGE)
        pose = self.vina.poses(n_poses=1, energy_range=ENERGY_RANGE)
        return {"vina": float(energies[0][0]), "protonated_smiles": ligand.protonated_smiles, "pose": pose}


def serve(docker: Docker, requests: TextIO, replies: TextIO) -> None:
    for line in requests:
        request = json.loads(line)
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        try:
            reply = docker.dock(request["smiles"], request["exhaustiveness"])
        except DockingError as exc:
            reply = {"error": str(exc)}
        except MemoryError:
            reply = {"error": "out of memory", "fatal": True}
        except Exception as exc:  # a library failing on this ligand must not end the process
            reply = {"error": f"{type(exc).__name__} while docking {request['smiles']!r}: {exc}"}
        reply["seconds"] = time.perf_counter() - start
        reply["cpu_seconds"] = _cpu_seconds() - cpu_start
        reply["peak_rss_mb"] = _peak_rss_mb()
        replies.write(json.dumps(reply) + "\n")
        if reply.get("fatal"):
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tg_molecule.docking_child")
    parser.add_argument("--target", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    args = parser.parse_args(argv)
    _limit_memory(args.memory_mb)
    replies = _replies_channel()
    start = time.perf_counter()
    try:
        docker = Docker(args.target, args.seed, args.cpu)
    except MemoryError:
        replies.write(json.dumps({"error": "out of memory while computing the Vina maps"}) + "\n")
        return 1
    replies.write(json.dumps({"ready": True, "seconds": time.perf_counter() - start,
                              "peak_rss_mb": _peak_rss_mb()}) + "\n")
    serve(docker, sys.stdin, replies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
