"""One module per command (asv's layout): each has ``run(args) -> exit status``, which
tests call directly. ``parkbench.cli`` only parses the command line and hands off."""
