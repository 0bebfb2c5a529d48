"""scikit-learn's breast-cancer data, split and scaled as the lecture does.

``train_test_split(test_size=0.2, random_state=0)``, a ``StandardScaler`` fitted on the training
part and applied to both, then the scaled training part split again with the same arguments into
a training part and a validation part (the lecture's ``X_tr, X_val``): 455 train / 114 test, and
of the 455, 364 train / 91 validation.
"""

from __future__ import annotations

import functools

import numpy as np

from experiments.data import Dataset
from experiments.i18n import N_
from npref.training import Data

SOURCE = N_("sklearn.datasets.load_breast_cancer (ships with scikit-learn)")


@functools.lru_cache(maxsize=1)
def _split():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    cancer = load_breast_cancer()
    x_train, x_test, t_train, t_test = train_test_split(cancer.data, cancer.target,
                                                        test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    x_tr, x_val, t_tr, t_val = train_test_split(x_train, t_train, test_size=0.2, random_state=0)
    return {k: np.ascontiguousarray(v) for k, v in dict(
        x_train=x_train, t_train=t_train, x_test=x_test, t_test=t_test, x_tr=x_tr, t_tr=t_tr,
        x_val=x_val, t_val=t_val).items()}


def load(validation: bool = False) -> Dataset:
    """The lecture's split. With ``validation``, train on the validation split's training part
    (364 samples) and validate on its 91; the test part is the same 114 either way."""
    s = _split()
    if validation:
        data = Data(s["x_tr"], s["t_tr"], s["x_test"], s["t_test"], s["x_val"], s["t_val"])
        source = SOURCE + "; " + N_("lecture split, training part split again for validation")
    else:
        data = Data(s["x_train"], s["t_train"], s["x_test"], s["t_test"])
        source = SOURCE + "; " + N_("lecture split (test_size=0.2, random_state=0), standardized")
    return Dataset(N_("breast cancer"), source, data)
