"""``parkbench compare A B``: two machines, machine folders or run files side by side,
every figure with its unit, the ratio B/A, and significance for latency; served and wake
rates W by W (their basis must match, or the row says they differ)."""

from parkbench.analysis import compare
from parkbench.commands import output
from parkbench.core.units import format_bytes, format_count, format_seconds
from parkbench.presentation.summary import noise_text


def format_value(value, unit: str, noise=None) -> str:
    if output.is_missing(value):
        return "-"
    if unit == "bytes":
        return noise_text(value, noise, format_bytes) or format_bytes(value)
    if unit == "seconds":
        return format_seconds(value)
    if unit == "waiters":
        return f"{format_count(value)} waiters"
    if unit.endswith("/s"):  # a served or wake rate: 99,030 requests/s
        return f"{value:,.0f} {unit}"
    return f"{value:.4g} {unit}"


def verdict(row) -> str:
    if isinstance(row.verdict, str) and row.verdict.startswith("not judged"):  # a disturbed side
        return row.verdict if row.status.startswith("disturbed") else f"{row.verdict}; {row.status}"
    if row.status != "compared" and not row.status.startswith(("differ", "unstable")):
        return row.status  # only on one side, or a curve
    if row.significant is None or output.is_missing(row.significant):
        text = "-"
    else:
        text = row.verdict
    return text if row.status == "compared" else f"{text}; {row.status}"


def calibration_lines(a, b, busy_a: bool = False, busy_b: bool = False) -> list[str]:
    """How fast each side's machine was when its hand-offs were timed (calibration.py);
    a side whose only calibration the rest of the machine disturbed is marked, and then
    no B/A is drawn from it."""
    if a is None and b is None:
        return []

    def side(value, busy: bool) -> str:
        return (format_seconds(value) if value else "-") + (" (timed on a busy machine)" if busy else "")

    text = f"calibration (one-byte pipe hand-off on one CPU): A {side(a, busy_a)}, B {side(b, busy_b)}"
    if a and b and not (busy_a or busy_b):
        text += (f" (B/A {b / a:.3g}): a hand-off B/A near this is the machine's speed, "
                 f"not the model's")
    return [text]


def run(args) -> int:
    a = compare.resolve(args.a, args.results, getattr(args, "interpreter_a", None))
    b = compare.resolve(args.b, args.results, getattr(args, "interpreter_b", None))
    output.set_aside(a.current.set_aside)
    output.set_aside(b.current.set_aside)
    table = compare.compare(a, b)
    if args.format == "json":
        output.json_lines(table)
        return 0
    lines = [f"A: {table.attrs['a']}", f"B: {table.attrs['b']}"]
    lines += calibration_lines(table.attrs.get("calibration_a"), table.attrs.get("calibration_b"),
                               bool(table.attrs.get("calibration_a_disturbed")),
                               bool(table.attrs.get("calibration_b_disturbed")))
    lines += [f"{'model/variant':<24} {'placement':<11} {'metric':<18} {'A':>20} {'B':>20} "
             f"{'B/A':>7}  significant / status"]
    for row in table.itertuples():
        ratio = "-" if output.is_missing(row.ratio) else f"{row.ratio:.3g}"
        name = row.primitive if isinstance(row.primitive, str) else row.variant
        lines.append(f"{row.model + '/' + name:<24} {row.placement or '-':<11} "
                     f"{row.metric:<18} {format_value(row.a, row.unit, row.noise_a):>20} "
                     f"{format_value(row.b, row.unit, row.noise_b):>20} {ratio:>7}  {verdict(row)}")
    output.write("\n".join(lines))
    return 0
