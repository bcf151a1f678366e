"""Training seams of the deep fusions: gradient modulation (OGM-GE) and staged training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusionkit.fusion._modality_nets import ModalityNet
from fusionkit.training.balance import BalanceParams, GradientModulation


def _batch(n: int = 64, seed: int = 0):
    """Modality 0 carries the label, modality 1 is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    strong = rng.normal(size=(n, 4)) + 3.0 * y[:, None]
    weak = rng.normal(size=(n, 4))
    mask = np.ones((n, 2))
    tensors = [torch.as_tensor(a, dtype=torch.float32) for a in (strong, weak, mask)]
    return [*tensors, torch.as_tensor(y)]


def _trained_net() -> ModalityNet:
    torch.manual_seed(0)
    net = ModalityNet(
        [4, 4], 2, operator="concat", width=8, hidden=[8], dropout=0.0, modality_dropout=0.0
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    *inputs, y = _batch()
    for _ in range(50):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(*inputs), y).backward()
        optimizer.step()
    return net


def _gradients(net, batch, after=None):
    net.zero_grad()
    *inputs, y = batch
    torch.nn.functional.cross_entropy(net(*inputs), y).backward()
    if after is not None:
        after(net, batch, 0)
    return [[p.grad.clone() for p in net.modality_parameters(i)] for i in (0, 1)]


def test_ogm_slows_only_the_leading_modality():
    net, batch = _trained_net(), _batch(seed=1)
    plain = _gradients(net, batch)
    modulation = GradientModulation(BalanceParams(method="ogm", alpha=0.5), seed=0)
    modulated = _gradients(net, batch, modulation)
    (k_strong, k_weak) = modulation.coefficients[-1]
    assert k_strong < 0.9 and k_weak == 1.0
    for a, b in zip(plain[0], modulated[0], strict=True):
        assert torch.allclose(b, a * k_strong, atol=1e-7)
    for a, b in zip(plain[1], modulated[1], strict=True):
        assert torch.equal(a, b)
    head_grad = net.head[0].weight.grad  # shared parameters are left alone
    assert head_grad is not None


def test_ogm_ge_adds_seeded_noise_and_stops_after_until_epoch():
    net, batch = _trained_net(), _batch(seed=1)
    params = BalanceParams(method="ogm_ge", until_epoch=3)
    a = _gradients(net, batch, GradientModulation(params, seed=0))
    b = _gradients(net, batch, GradientModulation(params, seed=0))
    plain = _gradients(net, batch)
    assert all(torch.equal(u, v) for u, v in zip(a[1], b[1], strict=True))  # seeded
    assert not all(torch.equal(u, v) for u, v in zip(a[1], plain[1], strict=True))  # noise

    late = GradientModulation(params, seed=0)
    net.zero_grad()
    *inputs, y = batch
    torch.nn.functional.cross_entropy(net(*inputs), y).backward()
    before = [p.grad.clone() for p in net.parameters()]
    late(net, batch, 3)
    assert all(torch.equal(g, p.grad) for g, p in zip(before, net.parameters(), strict=True))
    assert late.coefficients == []


def test_a_network_without_modality_parameters_is_refused():
    with pytest.raises(TypeError, match="does not declare modality parameters"):
        GradientModulation(BalanceParams(method="ogm"), 0)(torch.nn.Linear(2, 2), [], 0)


def _staged(tmp_path, fine_tune_epochs: int):
    from fusionkit.config import EncoderSpec, resolved
    from fusionkit.fusion.deep_concat import DeepConcat, DeepConcatParams
    from fusionkit.testing import fusion_inputs
    from fusionkit.training.context import FitContext

    small = {"hidden": [8], "train": {"epochs": 4}}
    encoders = {m: resolved(EncoderSpec(type="mlp", params=small)) for m in ("a", "b")}
    train, y, _, _ = fusion_inputs(0, encoders, tmp_path)
    params = DeepConcatParams(
        end_to_end=True,
        staged={"fine_tune_epochs": fine_tune_epochs},
        head={"hidden": [8]},
        train={"epochs": 4},
    )
    ctx = FitContext(seed=3, n_classes=3, threads=1)
    fusion = DeepConcat(params).fit(train, y, ctx)
    alone = encoders["a"].build().fit(train.data["a"], y, ctx)  # how the encoder trains alone
    return fusion, alone


def _same(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_staged_training_starts_from_the_encoders_own_networks(tmp_path):
    """Stage 1 trains each network as its encoder would; with no fine-tuning the head is
    trained on them frozen; fine-tuning then moves them."""
    frozen, alone = _staged(tmp_path / "frozen", 0)
    assert _same(frozen.model_.backbones[0], alone.backbone_)
    tuned, alone = _staged(tmp_path / "tuned", 3)
    assert not _same(tuned.model_.backbones[0], alone.backbone_)
