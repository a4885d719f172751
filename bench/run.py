"""Run every benchmark in bench/ one after the other (`make bench`).

Each script prints a markdown table; docs/BENCHMARKS.md records the figures with the exact
command. Pass names to run a subset: `.venv/bin/python bench/run.py sync pdf`.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCRIPTS = {
    "venue_search": ["bench_venue_search.py"],
    "import": ["bench_import.py"],
    "demo": ["demo_load.py"],
    "sync": ["bench_sync.py"],
    "pdf": ["bench_pdf.py"],
    "pwa": ["bench_pwa.py"],
}


def main(names: list[str]) -> int:
    failed = []
    for name in names or list(SCRIPTS):
        script, *args = SCRIPTS[name]
        path = BENCH / script
        if not path.exists():
            print(f"## {name}: {script} missing", flush=True)
            failed.append(name)
            continue
        print(f"\n## {name}: .venv/bin/python bench/{script} {' '.join(args)}".rstrip(), flush=True)
        if subprocess.call([sys.executable, str(path), *args], cwd=ROOT) != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
