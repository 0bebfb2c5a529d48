"""The data both backends train on: MNIST (and Fashion-MNIST) and scikit-learn's breast cancer.

Every loader returns a :class:`Dataset`: the arrays (an :class:`npref.training.Data`) and where they
came from, which each experiment records in its ``metrics.json`` under ``data``.
"""

from __future__ import annotations

from dataclasses import dataclass

from npref.training import Data


class DataError(ValueError):
    """A data file is missing, corrupt or inconsistent; the message names the file."""


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str          # where the arrays came from, in words (a folder, a cache, a package)
    data: Data

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source,
                "n_train": int(len(self.data.t_train)),
                "n_test": 0 if self.data.t_test is None else int(len(self.data.t_test))}
