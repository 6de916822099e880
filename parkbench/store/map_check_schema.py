"""The fit map's checked points as a run's plan stores them (``parameters.map_checks``):
per checked default model, W, the offered rates, the prediction they check and the
criterion a rate is held by (the SLO, or saturation where the edge was judged by it). The
checks are predicted and judged by ``analysis/map_checks.py``; this is their stored
shape, which the reader checks (a run file is untrusted) and the plan checks again.
"""

import json

from parkbench.core.protocol import MAX_N
from parkbench.core.registry import is_connections
from parkbench.core.units import is_finite_number

CHECKED = {"in-process": ("asyncio", "event"),        # workload -> its default model
           "connections": ("asyncio", "connections")}
MAX_RATE = 10**8             # the highest rate a check offers (``check``)
FIELDS = ("model", "variant", "waiters", "rates", "predicted_rate", "predicted_capacity",
          "criterion", "basis")
CRITERIA = ("slo", "saturation")   # what "held" means: the edge's own basis (``knee.py``)
IN_PROCESS_FIELDS = FIELDS + ("bytes_per_waiter",)   # what the guard predicts its memory by


def is_in_process(check_or_job) -> bool:
    """Whether a check (a dict) or a job is of the in-process workload."""
    variant = check_or_job["variant"] if isinstance(check_or_job, dict) else check_or_job.variant
    return not is_connections(variant)


def once(checks) -> tuple:
    """A stored list of map checks with repeats run once, as a stored selection's are
    (a shape the reader refused never gets here; anything else ``check`` judges)."""
    if not isinstance(checks, (list, tuple)):
        return tuple(checks) if isinstance(checks, dict) else ()
    kept: dict = {}
    for item in checks:
        kept.setdefault(json.dumps(item, sort_keys=True, default=str), item)
    return tuple(kept.values())


def check(checks, fail, selection=None) -> None:
    """Map checks as a plan or a run file holds them: each a checked default model (of
    ``selection``, when given) with W, one to ten rates and its prediction within reason
    (a run file's are untrusted: the reader checks them too)."""
    if not isinstance(checks, (list, tuple)) or len(checks) > len(CHECKED):
        fail(f"must be a list of at most {len(CHECKED)} map checks")
    seen = set()
    for item in checks:
        if not isinstance(item, dict) or set(item) not in (set(FIELDS), set(IN_PROCESS_FIELDS)):
            fail(f"a map check must name exactly {', '.join(FIELDS)} (and, in-process, bytes_per_waiter)")
        which = (item["model"], item["variant"])
        if not all(isinstance(name, str) for name in which) or which not in set(CHECKED.values()):
            fail(f"a map check of {str(which)[:60]}, not a checked default model "
                 f"({', '.join(f'{m}/{v}' for m, v in CHECKED.values())})")
        if which in seen:
            fail(f"two map checks of {which[0]}/{which[1]}: a model is checked once per run")
        seen.add(which)
        if ("bytes_per_waiter" in item) != is_in_process(item):
            fail(f"a map check of {which[0]}/{which[1]} must {'' if is_in_process(item) else 'not '}"
                 f"name bytes_per_waiter (only an in-process check's memory is predicted by it)")
        if "bytes_per_waiter" in item and not (is_finite_number(item["bytes_per_waiter"])
                                               and 0 < item["bytes_per_waiter"] <= 2**40):
            fail(f"a map check's bytes_per_waiter must be a positive number of bytes, "
                 f"not {str(item['bytes_per_waiter'])[:40]}")
        if selection is not None and which not in {tuple(s) for s in selection}:
            fail(f"a map check of {which[0]}/{which[1]}, which the run does not select")
        if not (type(item["waiters"]) is int and 1 <= item["waiters"] <= MAX_N):
            fail(f"a map check's waiters must be 1 to {MAX_N:,}, not {str(item['waiters'])[:40]}")
        rates = item["rates"]
        if not (isinstance(rates, (list, tuple)) and 1 <= len(rates) <= 10
                and all(type(r) is int and 1 <= r <= MAX_RATE for r in rates)
                and list(rates) == sorted(set(rates))):
            fail(f"a map check's rates must be 1 to 10 increasing whole rates up to 10^8, "
                 f"not {str(rates)[:60]}")
        for key in ("predicted_rate", "predicted_capacity"):
            if not (is_finite_number(item[key]) and 0 < item[key] <= 2**63):
                fail(f"a map check's {key} must be a positive number, not {str(item[key])[:40]}")
        if item["criterion"] not in CRITERIA:
            fail(f"a map check's criterion must be one of {', '.join(CRITERIA)}, not {str(item['criterion'])[:40]}")
        if not isinstance(item["basis"], str) or len(item["basis"]) > 500:
            fail("a map check's basis must be text of at most 500 characters")
