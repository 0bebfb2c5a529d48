"""Side-by-side experiments on npref and torchref, and the teaching comparison report.

``python -m experiments --help`` for the command line; :mod:`experiments.registry` for the
catalogue; :mod:`experiments.backends` for the interface every experiment is written against.
"""
