"""Rewrite docs/commands.md from the command-line parser."""

from pathlib import Path

from parkbench.cli import build_parser
from parkbench.commands.command_docs import markdown

path = Path(__file__).resolve().parent.parent / "docs" / "commands.md"
path.write_text(markdown(build_parser()))
print(f"wrote {path}")
