"""FID, KID and IS over one feature space, with the real-image statistics kept between evaluations.

The extractor runs once per image; its outputs go to torchmetrics' FID/KID/IS through a pass-through
"feature network", so the three metrics share one forward pass and never own a large network.
"""

import warnings

import torch
from torch import nn
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

from gan_lab.progress import progress

KID_SUBSET = 1000  # torchmetrics' default, lowered for smaller sets
IS_SPLITS = 10  # the usual number of splits of Salimans et al.


class Passthrough(nn.Module):
    """The 'feature network' torchmetrics calls on what we give it: already-computed features."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def frechet_distance(mu1, sigma1, mu2, sigma2) -> torch.Tensor:
    """‖μ1−μ2‖² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½), all in float64.

    Tr((Σ1Σ2)^½) is the sum of the square roots of the eigenvalues of Σ1Σ2 (real and ≥ 0 up to
    rounding, since Σ1Σ2 is similar to a positive semi-definite matrix).
    """
    mu1, sigma1, mu2, sigma2 = (t.double() for t in (mu1, sigma1, mu2, sigma2))
    eig = torch.linalg.eigvals(sigma1 @ sigma2)
    sqrt_trace = eig.sqrt().real.sum()
    return (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * sqrt_trace


class FrechetDistance64(FrechetInceptionDistance):
    """torchmetrics' FID (float64 sums) but returned in float64, not cast back to float32."""

    def compute(self) -> torch.Tensor:
        n_r, n_f = self.real_features_num_samples, self.fake_features_num_samples
        if n_r < 2 or n_f < 2:
            raise RuntimeError("FID needs at least two real and two generated images")
        mu_r, mu_f = self.real_features_sum / n_r, self.fake_features_sum / n_f
        cov_r = (self.real_features_cov_sum - n_r * torch.outer(mu_r, mu_r)) / (n_r - 1)
        cov_f = (self.fake_features_cov_sum - n_f * torch.outer(mu_f, mu_f)) / (n_f - 1)
        return frechet_distance(mu_r, cov_r, mu_f, cov_f)


class Scorer:
    """Real features once (``add_real``), then ``score(fakes)`` as often as needed."""

    def __init__(
        self, extractor: nn.Module, batch_size: int = 100, device: str | torch.device = "cpu"
    ):
        self.extractor = extractor.to(device).eval()
        self.batch_size, self.device = batch_size, torch.device(device)
        self.suffix = getattr(extractor, "suffix", "")
        dim, k = extractor.feature_dim, extractor.num_classes
        self.fid = FrechetDistance64(feature=Passthrough(dim), reset_real_features=False).to(device)
        with (
            warnings.catch_warnings()
        ):  # "will save all extracted features": a few hundred, by design
            warnings.simplefilter("ignore", UserWarning)
            self.kid = KernelInceptionDistance(feature=Passthrough(dim), reset_real_features=False)
            self.inception_score = InceptionScore(feature=Passthrough(k))
        self.kid, self.inception_score = self.kid.to(device), self.inception_score.to(device)
        self.n_real = 0

    def features(
        self, images: torch.Tensor, what: str = "images"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """images: float in [0, 1], N×C×H×W, on any device; processed in batches.

        Inception on a CPU takes minutes for a few thousand images: a bar shows them (``what``
        names them), gone when done (leave=False) so training's bar and the tools' result lines
        stay readable."""
        feats, logits = [], []
        with progress(
            total=len(images), desc=f"features of {what}", unit="img", leave=False
        ) as bar:
            for start in range(0, len(images), self.batch_size):
                f, lg = self.extractor(images[start : start + self.batch_size].to(self.device))
                feats.append(f.double())
                logits.append(lg.double())
                bar.update(len(f))
        return torch.cat(feats), torch.cat(logits)

    def add_real(self, images: torch.Tensor) -> None:
        feats, _ = self.features(images, "real images")
        self.add_real_features(feats)

    def add_real_features(self, feats: torch.Tensor) -> None:
        self.fid.update(feats, real=True)
        self.kid.update(feats, real=True)
        self.n_real += len(feats)

    def floor(self, real: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
        """``val/fid{suffix}_floor`` and ``val/kid{suffix}_floor``: FID and KID of real features
        against held-out real ones of the same set, computed as ``score_features`` computes them
        (the same n, subset sizes and seed). The lowest value a generator can expect to reach
        with this many images: a FID is read against it. Leaves this scorer's state alone."""
        if len(real) < 2 or len(held_out) < 2:
            nan = float("nan")
            return {f"val/fid{self.suffix}_floor": nan, f"val/kid{self.suffix}_floor": nan}
        dim = real.shape[1]
        fid = FrechetDistance64(feature=Passthrough(dim)).to(self.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            kid = KernelInceptionDistance(feature=Passthrough(dim)).to(self.device)
        for metric in (fid, kid):
            metric.update(real, real=True)
            metric.update(held_out, real=False)
        kid.subset_size = min(KID_SUBSET, len(real), len(held_out))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            kid_mean, _ = kid.compute()
        return {
            f"val/fid{self.suffix}_floor": float(fid.compute()),
            f"val/kid{self.suffix}_floor": float(kid_mean),
        }

    def score(self, fakes: torch.Tensor) -> dict[str, float]:
        feats, logits = self.features(fakes, "generated images")
        return self.score_features(feats, logits)

    def score_features(self, feats: torch.Tensor, logits: torch.Tensor) -> dict[str, float]:
        """The metrics of one generated set; the fake statistics are cleared afterwards."""
        if self.n_real < 2 or len(feats) < 2:
            raise ValueError("FID/KID/IS need at least two real and two generated images")
        self.fid.update(feats, real=False)
        self.kid.update(feats, real=False)
        self.inception_score.update(logits)
        self.kid.subset_size = min(KID_SUBSET, self.n_real, len(feats))
        self.inception_score.splits = min(IS_SPLITS, len(feats))
        # KID subsets and IS splits are drawn at random: keep the training RNG untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            kid, kid_std = self.kid.compute()
            is_mean, is_std = self.inception_score.compute()
        out = {
            f"val/fid{self.suffix}": float(self.fid.compute()),
            f"val/kid{self.suffix}": float(kid),
            f"val/kid{self.suffix}_std": float(kid_std),
            f"val/is{self.suffix}": float(is_mean),
            f"val/is{self.suffix}_std": float(is_std),
        }
        for metric in (self.fid, self.kid, self.inception_score):
            metric.reset()  # real statistics survive (reset_real_features=False)
        return out
