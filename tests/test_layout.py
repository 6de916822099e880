"""The layout the project set itself: data flows one way (no probe module outside a probe
child, no import cycle), and no module outgrows the size a reader can walk."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "parkbench"
MAX_MODULE_LINES = 350


def test_the_runner_the_store_and_every_command_load_no_probe_module():
    """The registry (``parkbench.measurement.probes``) holds the static facts; a probe module (its
    submodules, the connections client) is imported only by a probe child."""
    from parkbench.cli import COMMANDS

    modules = ["parkbench.measurement.runner", "parkbench.store.results", "parkbench.measurement.plan", "parkbench.measurement.suite",
               "parkbench.measurement.limits", "parkbench.analysis.capacity", "parkbench.analysis.current", "parkbench.presentation.summary",
               "parkbench.presentation.headline", "parkbench.presentation.plots", "parkbench.cli",
               *(f"parkbench.commands.{name}" for name in COMMANDS.values())]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('parkbench.measurement.probes.') "
            "or m in ('parkbench.measurement.conn_client', 'parkbench.measurement.probe_child')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"




def test_no_module_is_over_350_lines():
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
             for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 40
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}


def _imports(path: Path) -> set[str]:
    """The parkbench modules ``path`` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("parkbench"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("parkbench")}
    return found


def test_no_two_modules_import_each_other():
    modules = {".".join(("parkbench", *path.relative_to(PACKAGE).with_suffix("").parts)): path
               for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"}
    edges = {name: {other for other in _imports(path) if other in modules and other != name}
             for name, path in modules.items()}
    assert len(edges) > 40
    circles = sorted((a, b) for a, targets in edges.items() for b in targets if a < b and a in edges.get(b, ()))
    assert circles == []


def test_tests_read_a_fixed_snapshot_of_the_results_never_the_working_folder():
    """bench.sh before test.sh added a run to results/ and test_curves failed."""
    from tests import committed

    tests = Path(__file__).parent
    readers = [path.name for path in tests.glob("test_*.py")
               if 'parent / "results"' in path.read_text() and path.name != Path(__file__).name]
    assert readers == []
    snapshot = committed.results()
    assert snapshot.resolve() != (PACKAGE.parent / "results").resolve()
    tracked = subprocess.run(["git", "-C", str(PACKAGE.parent), "ls-files", "results"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert sorted(str(p.relative_to(snapshot.parent)) for p in snapshot.rglob("*") if p.is_file()) \
        == sorted(tracked)


def test_the_package_resources_are_links_to_the_files_edited_at_the_top_level():
    """parkbench/resources holds links, not copies: a copy of the report notebook drifted
    (the notebook was edited, `parkbench report` rendered the stale copy)."""
    resources = PACKAGE / "resources"
    for name, target in (("report.ipynb", "notebooks/report.ipynb"),
                         ("bench_switch.py", "benchmarks/bench_switch.py"),
                         ("goprobe", "benchmarks/goprobe"), ("loadgen", "benchmarks/loadgen")):
        link = resources / name
        assert link.is_symlink(), f"parkbench/resources/{name} is a copy, not a link to {target}"
        assert link.resolve() == (PACKAGE.parent / target).resolve()


MAX_LOCAL_IMPORTS = 25
MAX_FUNCTION_LINES = 80


def _function_local_imports() -> list[tuple[str, int, str]]:
    """(file, line, text) of every ``parkbench`` import made inside a function."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                module = (inner.module if isinstance(inner, ast.ImportFrom)
                          else inner.names[0].name if isinstance(inner, ast.Import) else None)
                if module and module.startswith("parkbench"):
                    found.append((str(path.relative_to(PACKAGE)), inner.lineno, lines[inner.lineno - 1]))
    return sorted(set(found))


def test_imports_sit_at_the_top_and_each_one_left_in_a_function_says_why():
    """A function-local import hides the graph from readers and tools (that is how a
    circle grew unseen): only a few remain, each with its reason on its line."""
    local = _function_local_imports()
    assert len(local) <= MAX_LOCAL_IMPORTS, local
    assert [(name, line) for name, line, text in local if "#" not in text] == []


def test_no_function_is_over_80_lines():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.append((str(path.relative_to(PACKAGE)), node.name))
    assert long == []


def test_no_test_module_imports_another_test_module():
    """Shared helpers live in the helper modules (builders, synthetic, damage, committed,
    shapes); a test module imports none of its siblings."""
    tests = Path(__file__).parent
    found = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names] if isinstance(node, ast.ImportFrom) else []
            if module and (module.startswith(("tests.test_", "test_")) or node.level and module.startswith("test_")
                           or (module == "tests" and any(name.startswith("test_") for name in names))):
                found.append((path.name, module))
    assert found == []


def test_a_command_changes_a_run_only_through_the_store_s_object():
    """``commands/run.py`` and the runner read and change a run through ``RunFile``'s
    methods: no raw ``document[...]`` of a run file anywhere outside the store."""
    offenders = []
    for path in (PACKAGE / "commands").glob("*.py"):
        offenders += [path.name for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Attribute) and node.attr in ("document", "_document")]
    for path in (PACKAGE / "measurement").rglob("*.py"):
        offenders += [path.name for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Attribute) and node.attr == "_document"]
    assert offenders == []
