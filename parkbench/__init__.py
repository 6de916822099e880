"""parkbench: what one more idle waiter costs in Python.

The public API is small on purpose:

- ``parkbench.analysis.tidy.load(paths)``: any set of stored results as one tidy DataFrame.
- ``parkbench.cli.main(argv)``: the command line.

Everything else is private detail. This module imports nothing heavy, so that probe
children (fresh interpreters that import ``parkbench.measurement.probe_child``) start with a small,
model-independent baseline.
"""

__version__ = "0.1.0"
