"""The lecture as written: every accuracy it prints, reproduced exactly; the notebook's deviations."""

import numpy as np
import pytest

from experiments.catalogue.lecture_errata import listings as lecture
from experiments.data import mnist

REPRODUCIBLE = [name for name in lecture.PRINTED if name not in ("minibatch", "dropout")]


@pytest.mark.parametrize("name", REPRODUCIBLE)
def test_every_printed_accuracy_is_reproduced_exactly(name):
    kwargs, printed = lecture.PRINTED[name]
    kwargs = dict(kwargs)
    variant = kwargs.pop("variant", name)
    result = lecture.run(variant, **kwargs)
    assert result["score"] == printed                       # exactly, not approximately
    if variant == "early-stop":
        assert result["stopped_epoch"] == lecture.PRINTED_STOP_EPOCH == 585
        assert len(result["val_losses"]) == 586
    else:
        assert result["stopped_epoch"] is None
    assert len(result["losses"]) == (586 if variant == "early-stop" else kwargs["epochs"])


@pytest.mark.parametrize("variant,kwargs", [
    ("random", {}), ("xavier", {"seed": 3}), ("minibatch", {"seed": 3, "batch_size": 16}),
    ("dropout", {"seed": 3}), ("rmsprop", {}), ("validation", {}),
])
def test_seeded_variants_repeat_exactly(variant, kwargs):
    a = lecture.run(variant, epochs=60, **kwargs)
    b = lecture.run(variant, epochs=60, **kwargs)
    assert a == b
    if variant == "validation":
        assert len(a["val_losses"]) == 60 and a["val_losses"] != a["losses"]


def test_the_listings_deviate_as_the_spec_says():
    # learning-rate scales only the weight steps: at a learning rate of 0 a correct rule would
    # leave the loss where it is, but the biases still step with rate 1 and the loss moves.
    frozen = lecture.run("learning-rate", epochs=3, learning_rate=0.0)
    assert frozen["losses"][2] != frozen["losses"][0]
    # the 'Xavier' listing draws with std 2/√(fan_in + fan_out), not Glorot's √(2/(…))
    w = lecture.initial_weights("xavier", seed=0)["W1"]
    assert abs(w.std() - 2 / np.sqrt(40)) < 0.05 * (2 / np.sqrt(40))
    assert abs(w.std() - np.sqrt(2 / 40)) > 0.3 * np.sqrt(2 / 40)     # √2 apart


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="variant must be one of"):
        lecture.run("sgd", epochs=1)
    with pytest.raises(ValueError, match=r"momentum takes \['learning_rate', 'momentum'\]"):
        lecture.run("momentum", epochs=1, beta1=0.9)


def test_the_notebooks_deviations_run_and_differ_from_the_correct_rule():
    data = mnist.load(n_train=300, n_test=200).data
    for deviation in lecture.NOTEBOOK_DEVIATIONS:
        result = lecture.notebook(deviation, data, iterations=20)
        assert set(result) == {"test_acc", "train_acc", "loss"}
        assert 0.0 <= result["test_acc"] <= 1.0 and np.isfinite(result["loss"])
    with pytest.raises(ValueError, match="deviation must be one of"):
        lecture.notebook("other", data, iterations=1)
