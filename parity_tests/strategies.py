"""Hypothesis strategies shared by the parity tests (ranges of docs/parity.md).

They are the public ones of :mod:`npref.testing.strategies` — the parity suite draws from exactly
what a user proving their own port is offered.
"""

from __future__ import annotations

from npref.testing.strategies import (DTYPES, GRADIENT_KINDS, HYPERPARAMETERS, alphas,  # noqa: F401
                                      arrays, betas, dropout_ps, dtypes, epsilons, gradient,
                                      gradient_sequences, hyperparameters, learning_rates,
                                      log_uniform, momenta, parameters, seeds, shapes,
                                      weight_decays)
