"""Adversarial losses, computed in fp32 on D's logits.

``d_loss(logits, targets)`` takes the concatenated real+fake batch of design §4
with its (smoothed, noisy) target vector; ``g_loss(logits)`` takes D's logits
on fresh fakes, whose target is "real".
"""

import torch
import torch.nn.functional as F


class GANLoss:
    def d_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class BCELoss(GANLoss):
    """Binary cross-entropy on logits (003 §7–8, DCGAN)."""

    def d_loss(self, logits, targets):
        return F.binary_cross_entropy_with_logits(logits.float(), targets)

    def g_loss(self, logits):
        return F.binary_cross_entropy_with_logits(
            logits.float(), torch.ones_like(logits, dtype=torch.float32)
        )


class MSELoss(GANLoss):
    """Least squares on D's probability, as 001 tried (MSE between sigmoid output and label)."""

    def d_loss(self, logits, targets):
        return F.mse_loss(torch.sigmoid(logits.float()), targets)

    def g_loss(self, logits):
        p = torch.sigmoid(logits.float())
        return F.mse_loss(p, torch.ones_like(p))


class HingeLoss(GANLoss):
    """Hinge loss (Miyato et al. 2018): D pushes real logits above +1 and fake below -1.

    Label smoothing and noise do not apply: only the side (target > 0.5 is real) is used.
    """

    def d_loss(self, logits, targets):
        sign = torch.where(targets > 0.5, 1.0, -1.0)
        return F.relu(1.0 - sign * logits.float()).mean()

    def g_loss(self, logits):
        return -logits.float().mean()


LOSSES = {"bce": BCELoss, "mse": MSELoss, "hinge": HingeLoss}


def build_loss(name: str) -> GANLoss:
    return LOSSES[name]()  # the names: gan_lab.schema checks model.loss against LOSSES
