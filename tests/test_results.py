"""Results as typed values: metrics.json round-trips through experiments.results.Result, a field
of another name fails at once, and the series keys split back into their parts."""

import json

import pytest

from experiments import results


def _result() -> results.Result:
    return results.Result(
        experiment="x", profile="quick", seed=0, config={"epochs": 3}, data={"name": "d",
        "source": "s", "n_train": 1, "n_test": 0},
        backends={"numpy": results.BackendResult({"L1 0.01.loss": [1.0, float("nan")]},
                                                 {"L1 0.01.loss": 0.5}, 0.1, "cpu",
                                                 axes={"L1 0.01.loss": "iteration"})},
        parity=results.Parity(None, None, 1e-9, None, where="only one backend ran"),
        findings=[results.Finding("a claim", "numbers", {"numpy": False}, "full", "why not")],
        versions={"npref": "0"}, fingerprint="f", figures=["a.png"],
        figure_sha256={"a.png": "00"})


def test_metrics_json_round_trips_through_result():
    obj = results.to_json(_result())
    assert obj["format"] == results.FORMAT == 2
    assert obj["backends"]["numpy"]["series"]["L1 0.01.loss"] == [1.0, None]   # JSON: no NaN
    text = json.dumps(obj, allow_nan=False)
    back = results.from_json(json.loads(text))
    assert results.to_json(back) == obj
    assert back.findings[0].why == "why not" and not back.findings[0].holds
    assert back.parity.passed is None and back.backends["numpy"].axes


def test_a_field_of_another_name_fails_at_once():
    obj = results.to_json(_result())
    obj["parity"]["max_rel"] = obj["parity"].pop("max_rel_diff")
    with pytest.raises(ValueError, match="max_rel"):
        results.from_json(obj)
    obj = results.to_json(_result())
    obj["backends"]["numpy"]["serie"] = obj["backends"]["numpy"].pop("series")
    with pytest.raises(TypeError):
        results.from_json(obj)


def test_format_1_reads_as_it_is():
    obj = results.to_json(_result())
    del obj["format"]
    for f in obj["findings"]:
        del f["why"]
    assert results.from_json(obj).format == 1


def test_series_keys_split_at_the_last_dot():
    assert results.split_key(results.series_key("L1 0.01", "loss")) == ("L1 0.01", "loss")
    computed = results.Computed({"a.loss": [1.0], "b 0.1.loss": [2.0]}, {"a.loss": 1.0},
                                arrays={"a": {}, "b 0.1": {}})
    assert computed.parts() == ["a", "b 0.1"]
    assert computed.part("b 0.1").series == {"b 0.1.loss": [2.0]}
