"""Rewrite the generated parts of the docs: docs/commands.md from the command-line
parser, and the table of a run's stored plan in docs/results-format.md from its field
definitions (``parkbench/store/run_plan.py``). A test fails when either is stale."""

import sys
from pathlib import Path

from parkbench.cli import build_parser
from parkbench.commands.command_docs import markdown
from parkbench.store import run_plan

DOCS = Path(__file__).resolve().parent.parent / "docs"
BEGIN, END = "<!-- generated: parameters -->\n", "<!-- end of generated: parameters -->\n"


def with_parameters_table(page: str) -> str:
    """``page`` with the text between the two markers replaced by the current table."""
    head, rest = page.split(BEGIN)
    _, tail = rest.split(END)
    return head + BEGIN + run_plan.docs_table() + "\n" + END + tail


def main() -> int:
    (DOCS / "commands.md").write_text(markdown(build_parser()))
    results_format = DOCS / "results-format.md"
    results_format.write_text(with_parameters_table(results_format.read_text()))
    print(f"wrote {DOCS / 'commands.md'} and the parameters table of {results_format}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
