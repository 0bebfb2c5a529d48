"""The experiment catalogue: one module per experiment, named after it, registering itself with
:mod:`experiments.registry` when imported. A family of experiments that share one setting is a
package whose ``__init__`` holds the setting (:mod:`.breast_cancer`, :mod:`.overfit`);
:mod:`.variants` is the shared core of the training experiments and :mod:`.lecture` replays the
breast-cancer lecture's listings as written."""
