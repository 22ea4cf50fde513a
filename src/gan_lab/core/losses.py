"""Adversarial losses, computed in fp32 on D's logits.

``d_loss(logits, targets)`` takes the concatenated real+fake batch of design §4
with its (smoothed, noisy) target vector; ``g_loss(logits)`` takes D's logits
on fresh fakes, whose target is "real".
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from gan_lab.errors import UserError


class GANLoss:
    penalty = False  # True: the training step adds gradient_penalty (WGAN-GP)

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


class WassersteinLoss(GANLoss):
    """The critic's loss of WGAN-GP (Gulrajani et al. 2017): D's mean score on fakes minus its
    mean on reals; G raises its score on fakes. The Lipschitz constraint that makes the score a
    distance is the gradient penalty below (``gradient_penalty``), which the training step adds
    with weight model.gp_weight (design §4.1). Label smoothing and noise do not apply: only
    the side (target > 0.5 is real) is used.
    """

    penalty = True  # the training step adds gradient_penalty

    def d_loss(self, logits, targets):
        logits, real = logits.float(), (targets > 0.5).float()
        fake = 1.0 - real
        # means of each side without boolean indexing (which would wait for the device)
        mean_real = (logits * real).sum() / real.sum().clamp(min=1)
        mean_fake = (logits * fake).sum() / fake.sum().clamp(min=1)
        return mean_fake - mean_real

    def g_loss(self, logits):
        return -logits.float().mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = ε·real + (1 − ε)·fake, ε ~ U[0, 1] per image (Gulrajani et al.
    2017, Algorithm 1), differentiable w.r.t. D's weights (a double backward).

    Under bf16 autocast D's layers run in bf16 and the double backward works through them; the
    gradient w.r.t. the fp32 interpolates, its norm and the square are fp32 (design §4.1).
    """
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (eps * real.float() + (1 - eps) * fake.float()).to(real.dtype).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).float().sum(), x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(dim=1)
    return (norm - 1.0).pow(2).mean()


LOSSES = {"bce": BCELoss, "mse": MSELoss, "hinge": HingeLoss, "wgan_gp": WassersteinLoss}


def build_loss(name: str) -> GANLoss:
    # gan_lab.config.schema checks model.loss against LOSSES; this is for GAN(loss=...) built in code
    if name not in LOSSES:
        raise UserError(f"model.loss must be one of {', '.join(LOSSES)}, not '{name}'.")
    return LOSSES[name]()
