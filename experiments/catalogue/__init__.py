"""The experiment catalogue: one module per experiment, named after it, each declaring its
:class:`~experiments.experiment.Experiment` as ``EXPERIMENT`` (:mod:`experiments.registry` lists
them in order). Nothing else lives here. A family of experiments that share one setting is a
package whose ``__init__`` holds the setting (:mod:`.breast_cancer`, :mod:`.overfit`); an
experiment with a part of its own is a package too (:mod:`.lecture_errata` and its
``listings``, the breast-cancer lecture's listings replayed as written). What the experiments
share lives beside the catalogue: :mod:`experiments.backends.variants` (training a set of
networks on one backend), :mod:`experiments.findings` (judging claims, words from numbers),
:mod:`experiments.panels` (the rules a page shows)."""
