#!/usr/bin/env python3
"""Writes the sandbox's Grafana dashboards to observability/grafana/dashboards/.

The JSON files are generated, committed and checked for drift by the tests:
edit the dashboard modules in dashboards_src/ (or the SLO in
observability/slo.json), then run `make dashboards` (or `python3 generate.py`).
`--check` exits 1 when a committed file differs from what this would write.

Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards_src import render_all

OUT_DIR = Path(__file__).resolve().parent / "dashboards"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a committed file is out of date"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="directory to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    rendered = render_all()
    if args.check:
        stale = [
            name
            for name, text in rendered.items()
            if not (args.out / name).is_file()
            or (args.out / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in args.out.glob("*.json") if p.name not in rendered)
        for name in stale:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        for name in extra:
            print(
                f"not generated (remove it or add it to dashboards_src.DASHBOARDS): "
                f"{args.out / name}",
                file=sys.stderr,
            )
        if stale or extra:
            print("run: make dashboards", file=sys.stderr)
            return 1
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered)} dashboards to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
