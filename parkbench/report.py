"""Rendering the report: execute ``notebooks/report.ipynb`` headlessly, with the current
interpreter as its kernel, and write the executed notebook and its HTML.

The results folder and machines reach the notebook through a cell injected after the
one tagged ``parameters`` (the papermill convention, without papermill). Cell timing is
not recorded and plots carry no timestamps, so re-rendering unchanged results writes
the same files.
"""

import json
import sys
import tempfile
from pathlib import Path

from parkbench.errors import UserError

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "report.ipynb"
KERNEL_TIMEOUT_SECONDS = 600


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise UserError(
            f"the report needs {module!r}: install the report extra "
            f"(pip install -e '.[report]')"
        ) from None


KERNEL_NAME = "parkbench-current-python"


def _current_interpreter_kernel(specs: Path):
    """A kernel manager whose kernel is this very interpreter (not whatever 'python3'
    kernelspec the machine happens to have installed)."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    folder = specs / KERNEL_NAME
    folder.mkdir()
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "parkbench (current interpreter)", "language": "python",
    }))
    manager = KernelSpecManager(kernel_dirs=[str(specs)], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=manager)


def render(results_dir: Path, output_dir: Path, machines: list[str] | None = None,
           notebook: Path = NOTEBOOK) -> tuple[Path, Path]:
    """Execute the report over ``results_dir``; return (executed notebook, HTML)."""
    for module in ("nbformat", "nbclient", "nbconvert", "ipykernel"):
        _require(module)
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    from parkbench import results

    results_dir, output_dir = Path(results_dir).resolve(), Path(output_dir).resolve()
    frame = results.load(results_dir)  # fails clearly on no or bad results
    known = sorted(frame.machine.unique())
    for machine in machines or ():
        if machine not in known:
            raise UserError(f"unknown machine {machine!r}; results hold: {', '.join(known)}")
    if not notebook.is_file():
        raise UserError(f"the report notebook is missing: {notebook}")

    nb = nbformat.read(notebook, as_version=4)
    index = next((i for i, cell in enumerate(nb.cells)
                  if "parameters" in cell.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise UserError(f"{notebook} has no cell tagged 'parameters'")
    injected = nbformat.v4.new_code_cell(
        f"# Parameters injected by parkbench report\n"
        f"results_dir = {json.dumps(str(results_dir))}\n"
        f"machines = {json.dumps(machines)}\n".replace("null", "None"))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number}"  # random ids would change the file on every render
    with tempfile.TemporaryDirectory(prefix="parkbench-kernel-") as specs:
        client = NotebookClient(
            nb, timeout=KERNEL_TIMEOUT_SECONDS, record_timing=False,
            km=_current_interpreter_kernel(Path(specs)),
            resources={"metadata": {"path": str(notebook.parent)}},
        )
        client.execute()

    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / "report.ipynb"
    html_path = output_dir / "report.html"
    nb.metadata.pop("widgets", None)
    from parkbench.results import write_text_atomic

    write_text_atomic(executed, nbformat.writes(nb))
    html, _ = HTMLExporter().from_notebook_node(nb)
    write_text_atomic(html_path, html)
    for machine, png in fit_map_images(nb):
        (output_dir / f"fitmap-{machine}.png").write_bytes(png)
    return executed, html_path


def fit_map_images(nb):
    """(machine, PNG bytes) of each fit map the executed notebook drew: the image that
    follows the "Fit map of `NAME`" line in the cell tagged ``fit-map``."""
    import base64
    import re

    found, machine = [], None
    for cell in nb.cells:
        if "fit-map" not in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            match = re.match(r"Fit map of `([^`]+)`", data.get("text/markdown", ""))
            if match:
                machine = match.group(1)
            elif "image/png" in data and machine is not None:
                found.append((machine, base64.b64decode(data["image/png"])))
                machine = None
    return found
