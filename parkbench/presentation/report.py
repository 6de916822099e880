"""Rendering the report: execute ``notebooks/report.ipynb`` headlessly, with the current
interpreter as its kernel, and write the executed notebook and its HTML.

The results folder and machines reach the notebook through a cell injected after the
one tagged ``parameters`` (the papermill convention, without papermill). Cell timing is
not recorded and plots carry no timestamps, so re-rendering unchanged results writes
the same files.
"""

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from parkbench import resources
from parkbench.analysis import current
from parkbench.core.errors import UserError
from parkbench.presentation.report_kernel import FOLDER_ENV
from parkbench.store import checker
from parkbench.store.checker import printable
from parkbench.store.files import check_output_folder, write_text_atomic

NOTEBOOK = resources.path("report.ipynb")
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
# How long a kernel asked to shut down may take before it is killed: an idle one exits
# at once; one still running a cell when the report is stopped is not waited for.
SHUTDOWN_WAIT_SECONDS = 1.0


# A Unix socket's path holds at most 107 bytes: the kernel's IPC sockets
# (<folder>/kernel-<port>) must fit, whatever $TMPDIR is (pytest-xdist's are deep).
SOCKET_PATH_BYTES = 100


def _kernel_parent() -> str:
    """Where the kernel's private folder goes: the temporary folder, or /tmp where the
    temporary folder's path is too long for its sockets."""
    parent = tempfile.gettempdir()
    # the folder's name (pbk- and 8 characters) and the socket's (/kernel-NNNNN)
    if len(os.fsencode(parent)) + len("/pbk-xxxxxxxx/kernel-65535") > SOCKET_PATH_BYTES:
        return "/tmp"
    return parent


def _current_interpreter_kernel(specs: Path):
    """A kernel manager whose kernel is this very interpreter (not whatever 'python3'
    kernelspec the machine happens to have installed)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    folder = specs / KERNEL_NAME
    folder.mkdir()
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "parkbench.presentation.report_kernel", "-f", "{connection_file}"],
        "display_name": "parkbench (current interpreter)", "language": "python",
        "env": {FOLDER_ENV: str(specs)},
    }))
    manager = KernelSpecManager(kernel_dirs=[str(specs)], ensure_native_kernel=False)
    # IPC sockets in the private temporary folder: no TCP port, no "without encryption"
    # warning, nothing reachable from another user.
    # The connection file too: the kernel removes the folder if the report dies.
    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=manager,
                         transport="ipc", ip=str(specs / "kernel"), shutdown_wait_time=SHUTDOWN_WAIT_SECONDS,
                         connection_file=str(specs / "connection.json"))


def render(results_dir: Path, output_dir: Path, machines: list[str] | None = None,
           notebook: Path = NOTEBOOK, set_aside: list | None = None) -> list[Path]:
    """Execute the report over ``results_dir``; write the executed notebook, its HTML
    (code hidden) and each machine's fit map and decision map PNG into ``output_dir``;
    return the paths written. Bad run files the report leaves out are added to
    ``set_aside`` (``run_reader.SetAside``)."""
    for module in ("nbformat", "nbclient", "nbconvert", "ipykernel"):
        _require(module)

    results_dir, output_dir = Path(results_dir).resolve(), Path(output_dir).resolve()
    figures = current.load(results_dir)  # fails clearly on no results or only bad ones
    frame = figures.frame
    if set_aside is not None:
        set_aside.extend(figures.set_aside)
    known = sorted(frame.machine.unique())
    for machine in machines or ():
        if machine not in known:
            raise UserError(f"unknown machine {machine!r}; results hold: {', '.join(known)}")
    for machine in known:
        checker.is_plain_name(machine) or _refuse(machine)
    if not notebook.is_file():
        raise UserError(f"the report notebook is missing: {notebook}")
    created = not output_dir.exists()
    check_output_folder(output_dir)
    try:
        return _execute(notebook, results_dir, output_dir, machines)
    except BaseException:
        if created and output_dir.is_dir() and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a failed render leaves no empty folder behind
        raise


def _execute(notebook: Path, results_dir: Path, output_dir: Path, machines) -> list[Path]:
    """Run the notebook on ``results_dir`` into ``output_dir`` and write the page."""
    import nbformat
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    index = next((i for i, cell in enumerate(nb.cells)
                  if "parameters" in cell.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise UserError(f"{notebook} has no cell tagged 'parameters'")
    relative = os.path.relpath(results_dir, output_dir)  # no absolute path in the page
    injected = nbformat.v4.new_code_cell(
        "# Parameters injected by parkbench report\n"
        f"results_dir = {relative!r}\n"
        f"machines = {machines!r}\n")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number}"  # random ids would change the file on every render
    with tempfile.TemporaryDirectory(prefix="pbk-", dir=_kernel_parent()) as specs:
        manager = _current_interpreter_kernel(Path(specs))
        client = NotebookClient(
            nb, timeout=KERNEL_TIMEOUT_SECONDS, record_timing=False, km=manager,
            resources={"metadata": {"path": str(output_dir)}},
        )
        log = Path(specs) / "kernel.log"  # the kernel's own stderr: shown on a failure
        try:
            with open(log, "wb") as stderr:
                client.execute(stderr=stderr)
        except (Exception, asyncio.CancelledError) as exc:
            # nbclient meets SIGINT and SIGTERM itself: it shuts the kernel down, and
            # the execution then fails in its own code (or is cancelled, the kernel still
            # starting); the user asked to stop.
            if getattr(client, "_async_cleanup_kernel_future", None) is not None:
                raise KeyboardInterrupt from None
            if getattr(exc, "ename", "") == "UserError":  # bad input met in a cell: one line

                raise UserError(printable(str(getattr(exc, "evalue", ""))[:500])) from None
            sys.stderr.write(log.read_text(errors="replace"))
            raise
        finally:
            if manager.has_kernel:  # a kernel we started: never leave it behind
                run_sync(manager.shutdown_kernel)(now=False)
    problems = [output for cell in nb.cells for output in cell.get("outputs", [])
                if output.get("output_type") == "error"
                or (output.get("output_type") == "stream" and output.get("name") == "stderr")]
    if problems:
        first = problems[0]
        text = first.get("ename", "") + ": " + str(first.get("evalue", first.get("text", "")))
        raise RuntimeError(f"the report notebook wrote an error or to stderr: {text[:300]}")

    executed = output_dir / "report.ipynb"
    html_path = output_dir / "report.html"
    nb.metadata.pop("widgets", None)
    write_text_atomic(executed, nbformat.writes(nb))
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb)
    write_text_atomic(html_path, offline(html))
    written = [html_path, executed]
    for kind, machine, png in images(nb):
        path = output_dir / f"{kind}-{machine}.png"
        path.write_bytes(png)
        written.append(path)
    return written


def offline(html: str) -> str:
    """The page without what it would fetch from the network (require.js and MathJax from
    a CDN: the report has no widgets and no formulas), titled for what it is."""
    import re

    html = re.sub(r'<script src="https?://[^"]*"[^>]*>\s*</script>', "", html)
    html = re.sub(r'<script type="text/x-mathjax-config">.*?</script>', "", html, flags=re.S)
    html = re.sub(r'<script type="module">(?:(?!</script>).)*?import\("https?://.*?</script>', "",
                  html, flags=re.S)
    return html.replace("<title>Notebook</title>", "<title>parkbench report</title>", 1)


def _refuse(machine):
    raise UserError(f"machine name {machine!r} in the results is not a plain name")


MARKERS = (("Decision map of `", "decision-map"), ("Fit map of `", "fitmap"),
           ("Connections decision map of `", "decision-map-connections"),
           ("Connections fit map of `", "fitmap-connections"))


def images(nb):
    """(kind, machine, PNG bytes) of each map the executed notebook drew: the image that
    follows a "Decision map of `NAME`" or "Fit map of `NAME`" line in the cell tagged
    ``fit-map``."""
    import base64

    found, pending = [], None
    for cell in nb.cells:
        if "fit-map" not in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = data.get("text/markdown", "")
            for prefix, kind in MARKERS:
                if text.startswith(prefix):
                    machine = text[len(prefix):].split("`", 1)[0]
                    pending = (kind, machine) if checker.is_plain_name(machine) else None
                    break
            else:
                if "image/png" in data and pending is not None:
                    found.append((*pending, base64.b64decode(data["image/png"])))
                    pending = None
    return found
