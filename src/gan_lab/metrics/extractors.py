"""Feature spaces for FID / KID / IS: Inception-v3 (offline-safe) or a user-trained classifier.

Every extractor takes float images in [0, 1] (any channel count the extractor accepts) and returns
``(features, logits)``: features for FID/KID, logits for IS. It runs once per image for all three
metrics, and it lives in the metrics callback, never in the LightningModule, so it stays out of
checkpoints.
"""

import logging
from pathlib import Path

import torch
from torch import nn

from gan_lab.errors import UserError, load_torch_file

log = logging.getLogger(__name__)

# torch-fidelity's Inception-v3 (the TensorFlow FID network, converted); torchmetrics uses it too.
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = (
    f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
)


def hub_weights_path() -> Path:
    """Where torch-fidelity's first online run stores the file (``load_state_dict_from_url``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images


class InceptionFeatures(nn.Module):
    """2048-d pool features and 1008 unbiased logits of the standard FID Inception, one pass."""

    suffix = ""  # Inception metrics keep the names everyone knows: val/fid, val/kid, val/is
    feature_dim, num_classes = 2048, 1008

    def __init__(self, weights: str | Path):
        super().__init__()
        import torch_fidelity.feature_extractor_inceptionv3 as fe

        # torch-fidelity reads a weights file with torch.load(weights_only=False), which runs any
        # code pickled into it (design §9). Read it here with weights_only=True and hand the
        # tensors over through the hook it uses for downloads.
        state = load_torch_file(weights, "Inception weights file", legacy_ok=True)
        download = fe.load_state_dict_from_url
        fe.load_state_dict_from_url = lambda *args, **kwargs: state
        try:
            self.net = fe.FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048", "logits_unbiased"]
            )
        finally:
            fe.load_state_dict_from_url = download

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The network was trained on 8-bit images; quantise like a saved PNG would.
        x = (to_rgb(images.float()).clamp(0, 1) * 255).round().to(torch.uint8)
        features, logits = self.net(x)
        return features, logits


def inception_unavailable(reason: str) -> str:
    return (
        f"Inception metrics (val/fid, val/kid, val/is) are off: {reason}. "
        f"To enable them, download {INCEPTION_URL} (about 96 MB) on a machine with internet "
        f"and copy it to {hub_weights_path()} (the torch hub cache), or pass "
        f"metrics.inception_weights=/path/to/{INCEPTION_FILE}. Or train a feature extractor on "
        "your own data (gan-lab extractor) and pass metrics.extractor=/path/to/extractor.pt."
    )


def load_inception(weights: str | None) -> InceptionFeatures:
    """Inception from an explicit file or the hub cache; UserError (the one message) if neither loads."""
    path = Path(weights).expanduser() if weights else hub_weights_path()
    if not path.is_file():
        where = "metrics.inception_weights" if weights else "the torch hub cache"
        raise UserError(inception_unavailable(f"no weights file at {path} ({where})"))
    try:
        return InceptionFeatures(path).eval()
    except ImportError:
        raise UserError(
            inception_unavailable(
                "the torch-fidelity package is missing (pip install torch-fidelity)"
            )
        ) from None
    except Exception as err:  # noqa: BLE001 — a truncated or foreign file: say which and why
        raise UserError(
            inception_unavailable(f"{path} does not load ({type(err).__name__}: {err})")
        ) from None


def load_extractor(spec: str, inception_weights: str | None = None) -> nn.Module:
    """``inception`` or the path of an extractor file written by ``gan-lab extractor``."""
    if spec == "inception":
        return load_inception(inception_weights)
    from gan_lab.metrics.classifier import ClassifierFeatures

    return ClassifierFeatures.load(spec)


def try_load_extractor(
    spec: str, inception_weights: str | None, required: bool
) -> tuple[nn.Module | None, str]:
    """(extractor, "") or, for a missing Inception that is not required, (None, the message).

    A user-chosen classifier file that does not load is always an error: it was asked for by name.
    """
    try:
        return load_extractor(spec, inception_weights), ""
    except UserError as err:
        if spec != "inception":
            raise
        if required:
            raise UserError(f"{err} (Stopped because metrics.required=true.)") from None
        return None, f"{err} Training goes on without them (metrics.required=true stops instead)."
