"""The report's notebook kernel: ipykernel, tied to the ``parkbench report`` that runs it.

``python -m parkbench.presentation.report_kernel -f CONNECTION_FILE`` asks Linux for SIGTERM when its
parent dies (``PR_SET_PDEATHSIG``, see ``lifeline``), however the parent dies, SIGKILL
included; on SIGTERM it removes the report's private temporary folder
(``$PARKBENCH_KERNEL_FOLDER``: the kernel spec, the connection file and the IPC sockets)
and exits at once, so neither a kernel nor its files outlive the report. Then it starts
ipykernel as ``ipykernel_launcher`` does (without the working folder on ``sys.path``).
"""

import os
import shutil
import signal
import sys
from pathlib import Path

from parkbench.measurement import lifeline

FOLDER_ENV = "PARKBENCH_KERNEL_FOLDER"


def _leave(signum, frame) -> None:
    folder = os.environ.get(FOLDER_ENV)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _leave)
    lifeline.die_with_parent(os.environ.get("JPY_PARENT_PID"), signal.SIGTERM)
    if sys.path[0] == "" or Path(sys.path[0]) == Path.cwd():
        del sys.path[0]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
