"""Where result files go: ``benchmarks/results/`` (gitignored) unless ``--results-dir`` says."""

from __future__ import annotations

import argparse
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parent / "results"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"where result files (and daemon logs) go (default: {DEFAULT_DIR})",
    )


def save(results_dir: Path, name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as ``<results_dir>/<name>-<UTC time>.json``; return the path.

    Two runs within the same second get ``-2``, ``-3``, ... rather than overwriting each other.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    base = f"{name}-{stamp()}"
    text = json.dumps(payload, indent=2, default=str)
    for n in itertools.count(1):
        path = results_dir / (f"{base}.json" if n == 1 else f"{base}-{n}.json")
        try:
            with path.open("x") as out:
                out.write(text)
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")
