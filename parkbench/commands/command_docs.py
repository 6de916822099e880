"""The command reference (docs/commands.md), generated from the argparse parser so that
it cannot drift from the code: ``python scripts/generated_docs.py`` rewrites it, and a
test fails when it is stale."""

import argparse

HEADER = """# Command reference

Generated from the command-line parser by `python scripts/generated_docs.py`; a test
fails when this page and the parser disagree. Bad input to any command is one line on
stderr and exit status 2, with nothing written.
"""


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=88)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    return formatter.format_help().strip()


def markdown(parser: argparse.ArgumentParser) -> str:
    lines = [HEADER]
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    for name, sub in commands.choices.items():
        lines += [f"## `parkbench {name}`", "", (helps.get(name) or "") + ".", "", "```",
                  _usage(sub), "```", ""]
        rows = []
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(f"`{flag}`" for flag in action.option_strings) or f"`{action.dest}`"
            text = (action.help or "").replace("%%", "%").replace("|", "\\|")
            if action.choices and not isinstance(action, argparse._SubParsersAction):
                text += f" (one of: {', '.join(map(str, action.choices))})"
            rows.append(f"| {flags} | {text} |")
        if rows:
            lines += ["| argument | what it does |", "| --- | --- |", *rows, ""]
    return "\n".join(lines).rstrip() + "\n"
