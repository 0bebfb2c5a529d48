"""breast-cancer-dropout: dropout 0.5 on the hidden layer vs none."""

from __future__ import annotations

from experiments.catalogue.breast_cancer import experiment, gd

experiment(
    "breast-cancer-dropout",
    "dropout 0.5 on the hidden layer vs none, 1000 epochs",
    "Inverted dropout (x·mask/(1 − p) in training, x in evaluation) with p = 0.5 on the ten "
    "hidden units. It fights overfitting, which this small problem barely has; the training "
    "loss is noisier and higher.",
    lambda c: {"no dropout": ({}, *gd(c)), "dropout 0.5": ({"dropout": c["dropout"]}, *gd(c))},
    lambda c: ["no dropout", "dropout 0.5"], defaults={"dropout": 0.5})
