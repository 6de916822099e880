"""Reading older results files (``parkbench/upgrade.py``): each version is upgraded to
the current format in memory when read, never written back."""

import shutil

from parkbench import results, tidy
from tests import committed

COMMITTED = committed.results()
MACHINE = "x86_64-2cpu-24gib"


def test_version_1_files_load_through_the_upgrade(tmp_path):
    shutil.copytree(COMMITTED / MACHINE, tmp_path / MACHINE)
    (path,) = [p for p in (tmp_path / MACHINE).glob("20261126T050824Z.json")]
    before = path.read_bytes()
    document = results.read_run(path)
    assert document["schema_version"] == 2 and document["upgraded_from"] == 1
    assert document["interpreter"]["executable"] == "python"  # a name, not /work/.../python
    assert document["machine_description"]["limits"]["max_map_count"] == 65530
    assert set(document["parameters"]["grids"]) >= {"threads:condition", "subprocess:fork"}
    assert all(record["kind"] in ("memory", "switch", "tail") for record in document["measurements"])
    assert path.read_bytes() == before  # never rewritten in place
    frame = tidy.load(path)
    assert set(frame.interpreter) == {"CPython 3.11.7"}
