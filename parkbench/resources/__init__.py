"""Files an installed parkbench needs beside its code: the pyperf switch benchmark
(``benchmarks/bench_switch.py``), the report notebook (``notebooks/report.ipynb``) and
the sources of the Go programs (``benchmarks/goprobe``, ``benchmarks/loadgen``).

In the repository these are symbolic links to the top-level folders, where the files
live and are edited; building a wheel copies their content in, so an installed package
finds them through ``importlib.resources`` with no checkout around.
"""

from importlib import resources
from pathlib import Path


def path(name: str) -> Path:
    """A resource as a file on disk (they are plain files in the installed package)."""
    return Path(str(resources.files(__name__).joinpath(name)))
