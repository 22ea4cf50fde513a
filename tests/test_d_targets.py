"""D's targets (core.step.Procedure.d_targets): the base labels are cached per batch size and
label values (core.step.labels); what a run gets must not depend on what ran before it."""

import dataclasses

import torch

from gan_lab.core.losses import build_loss
from gan_lab.core.step import Procedure, labels

PROC = Procedure(
    loss=build_loss("bce"),
    d_steps=1,
    label_noise=0.0,
    real_label=1.0,
    fake_label=0.0,
    g_batch="fake",
    g_fakes="new",
    r1_gamma=0.0,
    gp_weight=0.0,
    class_loss=0.0,
    diffaug_ops=[],
    ada=None,
)
CPU = torch.device("cpu")


def test_targets_are_float_whether_the_labels_came_as_ints_or_floats():
    """model.real_label=1 model.fake_label=0 on the command line are ints; as cache keys they equal
    1.0 and 0.0, so a later run in the same process (a study, a test session) with label noise was
    handed the int run's int64 tensor and failed (rand_like of a Long tensor)."""
    labels.cache_clear()
    ints = dataclasses.replace(PROC, real_label=1, fake_label=0).d_targets(3, 3, CPU)
    assert ints.dtype == torch.float32
    assert ints.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    torch.manual_seed(0)
    noisy = dataclasses.replace(PROC, label_noise=0.1).d_targets(3, 3, CPU)
    torch.manual_seed(0)  # what the uncached formula gives for 1.0 / 0.0
    want = (torch.tensor([1.0] * 3 + [0.0] * 3) + (torch.rand(6) * 2 - 1) * 0.1).clamp(0, 1)
    assert noisy.dtype == torch.float32
    assert torch.equal(noisy, want)
