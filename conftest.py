"""The suite's order, for running it on every core (``make test``: pytest-xdist, one test file per
work unit, ``--no-loadscope-reorder``).

xdist hands out whole test files in the order it is given them. Its own order — the files with
the most tests first — starts the many quick parity files and leaves the few long files (a
report built, notebooks run in kernels) to the end, where one core computes alone while the other
waits. The longest files go first here (longest processing time first), so that the short ones
fill in at the end; within a file, and for the files not named, pytest's order stands.
"""

#: The test files that take longest, longest first: their seconds on this 2-core machine under
#: ``make test`` (pytest --durations, summed per file). Order only: a file missing here, or a
#: name that no longer exists, changes no result.
LONGEST_FIRST = [
    "tests/test_catalogue.py",        #  87 s (the lessons' browser tests included)
    "tests/test_notebooks.py",        #  78 s (its kernels: two at a time)
    "tests/test_report.py",           #  54 s
    "tests/test_parallel.py",         #  46 s
    "tests/test_results_set.py",      #  41 s
    "tests/test_faults.py",           #  34 s
    "tests/test_shadow.py",           #  24 s
    "parity_tests/test_optim.py",     #  16 s
    "parity_tests/test_init.py",      #  12 s
    "parity_tests/test_optim_more.py",  # 11 s
    "tests/test_explore.py",          #  11 s
    "tests/test_bench.py",            #  11 s
    "tests/test_experiments_cli.py",  #  10 s
    "parity_tests/test_optim_db.py",  #   8 s
    "tests/test_floor.py",            #   8 s
    "parity_tests/test_device.py",    #   6 s
]


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


#: The test files that build a report, which starts from the conventions measured once per run
#: (tests/conftest.py).
BUILD_REPORTS = ("tests/test_report.py", "tests/test_results_set.py", "tests/test_faults.py",
                 "tests/test_explore.py")


def pytest_xdist_node_collection_finished(node, ids):
    """Under pytest-xdist the controller process computes nothing itself: where the run builds
    reports, it measures the conventions (17-25 s) in a thread from the start, and the test
    processes find them measured instead of one of them measuring while the other waits."""
    if any(i.startswith(BUILD_REPORTS) for i in ids):
        from tests.conftest import measure_conventions_beside
        measure_conventions_beside(node.config._tmp_path_factory.getbasetemp())
