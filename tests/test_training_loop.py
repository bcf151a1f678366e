"""The training loop's selection and schedule settings do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from fusionkit.training.context import FitContext
from fusionkit.training.loop import TrainParams, macro_auroc, train_classifier


def _data(seed: int = 0):
    import torch

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(160, 6)).astype(np.float32)
    y = (x[:, 0] + 0.8 * rng.normal(size=160) > 0).astype(np.int64)
    t = torch.as_tensor(x)
    return ([t[:120]], y[:120]), ([t[120:]], y[120:])


def _train(**params):
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    fit, val = _data()
    ctx = FitContext(seed=0, n_classes=2, threads=1)
    history = train_classifier(model, fit, val, TrainParams(**params), ctx)
    return model, history


def test_select_by_auroc_keeps_the_epoch_with_the_best_validation_auc():
    _, history = _train(epochs=25, lr=0.05, patience=25, select_by="auroc")
    assert len(history.val_auroc) == 25
    assert history.best_epoch == int(np.argmax(history.val_auroc))
    _, by_loss = _train(epochs=25, lr=0.05, patience=25, select_by="loss")
    assert by_loss.best_epoch == int(np.argmin(by_loss.val_loss))


def test_macro_auroc_averages_the_classes_present():
    y = np.array([0, 0, 1, 1, 2, 2])
    perfect = np.eye(3)[y] * 5.0
    assert macro_auroc(y, perfect) == pytest.approx(1.0)
    assert macro_auroc(y, -perfect) == pytest.approx(0.0)
    assert macro_auroc(np.zeros(4, int), np.zeros((4, 3))) == 0.5  # one class: nothing to rank


def test_cosine_schedule_anneals_the_learning_rate_to_zero(monkeypatch):
    import math

    import torch

    rates: list[float] = []
    step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    _train(epochs=10, lr=0.05, batch_size=60, patience=10, schedule="cosine")  # 2 steps/epoch
    per_epoch = rates[::2]
    expected = [0.05 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(10)]
    assert per_epoch == pytest.approx(expected)
    rates.clear()
    _train(epochs=10, lr=0.05, batch_size=60, patience=10, schedule="constant")
    assert set(rates) == {0.05}
