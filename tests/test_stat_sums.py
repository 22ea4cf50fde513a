"""The epoch means the module logs (GAN._record): Σ stats × batch size over the epoch's steps,
summed as before the step's costs were cut (CHANGELOG: "each computing what it replaced")."""

from types import SimpleNamespace

import torch

from gan_lab.training.module import GAN


def test_epoch_sums_round_as_a_product_then_a_sum():
    """``sum.add(stats, alpha=b)`` runs as one fused multiply-add on a CPU with FMA (and on a GPU):
    one rounding instead of two, so with a batch size that is not a power of two (data.batch_size=10,
    an epoch's last partial batch) the logged epoch means moved in the last bit against the same
    run before (train/d_real_epoch 0.6521403193473816 → 0.6521402597427368, seed 7, tiny run)."""
    first = torch.tensor([26.983356475830078 / 64, 1.0, 0.5, 0.25])
    second = torch.tensor([2.7893970012664795, 1.0, 0.5, 0.25])
    module = SimpleNamespace(
        _stat_sum=None, _stat_n=0, trainer=SimpleNamespace(log_every_n_steps=0)
    )
    GAN._record(module, first, 64)
    GAN._record(module, second, 5)
    assert module._stat_n == 69
    want = first * 64 + second * 5
    assert want[0].item() == 40.93034362792969  # the product rounded, then the sum
    assert torch.equal(module._stat_sum, want)
