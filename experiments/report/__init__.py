"""The teaching comparison report: a static site that opens from disk (docs/results.md).

``OUT/index.html`` lists every experiment with its parity verdict, run time per backend and the
data it used; ``OUT/NAME/index.html`` shows one experiment — its concept and formula, the NumPy and
PyTorch figures overlaid, the parity table, its checks, timings, data and exact configuration;
``OUT/conventions.html`` measures every place where the book's conventions and PyTorch's differ.
Images are referenced by relative paths; no page needs JavaScript or a server.

The package: ``building`` runs or reuses the experiments and writes the pages; ``render`` turns
results into plain data for the Jinja2 templates in ``templates/``; ``conventions`` measures the
book-vs-PyTorch differences.
"""

from experiments.report.building import (
    PAGES,
    build,
    page_for,
    page_writers,
    refresh_index,
    ship_wheel,
    write_bench_page,
)

__all__ = ["PAGES", "build", "page_for", "page_writers", "refresh_index", "ship_wheel",
           "write_bench_page"]
