"""The experiment catalogue: one module per experiment (or per family sharing one setting), each
registering itself with :mod:`experiments.registry` when imported; :mod:`.variants` is the shared
core of the training experiments and :mod:`.lecture` replays the breast-cancer lecture's listings
as written."""
