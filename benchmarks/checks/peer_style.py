"""The peer-style check: the whole-program "1M concurrent tasks" method (N tasks each
sleeping on a timer, gathered, peak RSS / N) run on this machine beside parkbench's
sleep variant, with the difference taken apart by mechanism (``parkbench/measurement/peer.py``).

    python benchmarks/checks/peer_style.py [--n 100k,1M] [--sleep 10] [--models asyncio,go]

Prints the table and writes ``results/<machine>/peer-style.json``, which the report
shows. About three minutes at the defaults; go is skipped with the reason where no Go
toolchain is found.
"""

import argparse
import json
import sys
from pathlib import Path

from parkbench.core import registry
from parkbench.core.errors import UserError
from parkbench.core.units import parse_count_list
from parkbench.measurement import machine, peer, suite


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/checks/peer_style.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", default="100k,1M", help="task counts (default 100k,1M)")
    parser.add_argument("--sleep", type=float, default=10.0, help="seconds each task sleeps (default 10)")
    parser.add_argument("--models", default="asyncio,go", help="asyncio, go or both")
    parser.add_argument("--output", default="results", help="results folder (default results/)")
    parser.add_argument("--machine", help="machine name (default: this machine's)")
    args = parser.parse_args(argv)
    try:
        ns = parse_count_list(args.n)
        runtimes = [item.strip() for item in args.models.split(",") if item.strip()]
        unknown = [r for r in runtimes if r not in peer.RUNTIMES]
        if unknown or not runtimes:
            raise UserError(f"--models takes {', '.join(peer.RUNTIMES)}, not {args.models!r}")
        if not 1 <= args.sleep <= 600:
            raise UserError(f"--sleep must be from 1 to 600 seconds, not {args.sleep:g}")
        if "go" in runtimes:
            reason = suite.unavailable(registry.get("go"))
            if reason:
                print(f"peer_style: go skipped: {reason}", file=sys.stderr)
                runtimes.remove("go")
        name = machine.check_name(machine.resolve_name(args.machine))
        document = peer.measure(runtimes, ns, args.sleep,
                                progress=lambda text: print(f"peer_style: {text}", file=sys.stderr, flush=True))
    except UserError as exc:
        print(f"peer_style: error: {exc}", file=sys.stderr)
        return 2
    document.update(machine=name, interpreter=machine.python_info())
    folder = Path(args.output) / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / peer.FILENAME
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=1) + "\n")
    partial.replace(path)
    print(peer.render(document))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
