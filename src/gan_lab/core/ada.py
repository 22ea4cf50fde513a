"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data", ADA; design §4.2).

Every image D sees — real or fake, in both phases — goes through each op of ``model.ada.ops``
(gan_lab.core.diffaug's differentiable ops) with probability p, drawn per image and per op. p starts
at 0 and follows D's overfitting: the training step reports the sign of D's outputs on the reals
(``observe``), and every ``interval`` batches ``adjust`` moves p by ±(images since the last
adjustment) / ``speed_images`` towards keeping r_t = E[sign(D(x_real))] at ``target``. p lives in
a buffer, so checkpoints carry it and a resume continues bit-exactly; nothing here waits for the
device (p, the sums and the comparison all stay tensors).
"""

import torch
from torch import nn

from gan_lab.core.diffaug import parse_policy

# p stays below 1: at p = 1 D would never see an image as it is, and the closer p gets to 1 the
# likelier G is to reproduce the augmentations ("leaking", ADA paper §2.2–2.3).
P_MAX = 0.99
# speed_images=auto: p may go 0 → 1 in 100 passes over the set, between these bounds. ADA's
# 500k images (ada_kimg) are 7 passes over FFHQ's 70k and 1,700 over 300 images: D overfits by
# passes, not images, so a small set needs a controller that can react within a short run.
AUTO_EPOCHS, AUTO_MIN, AUTO_MAX = 100, 20_000, 500_000
# start_images=auto: p stays 0, and no op runs, for the first 100 passes over the set. Early on,
# D's sign on the reals is high because D is ahead, not because it has memorised the set, and on
# the 1,797 digits p then rose to ~0.1 within a 3-minute run and cost FD (29.2/28.3 against
# 25.6/25.4 without ADA, two seeds: benchmarks/README.md, "Digits study"). A set is only
# memorised after many passes; 100 passes are 1 minute on 300 digits and 3–4 on 1,797 here.
AUTO_START_EPOCHS = 100


def auto_speed(num_images: int) -> int:
    return int(min(max(AUTO_EPOCHS * num_images, AUTO_MIN), AUTO_MAX))


class AdaptiveAugment(nn.Module):
    def __init__(
        self,
        ops: str | list,
        target: float,
        speed_images: int | str,
        interval: int,
        start_images: int | str = 0,
    ):
        super().__init__()
        self.ops = parse_policy(ops)
        self.target, self.interval = float(target), int(interval)
        self.speed_images = speed_images  # "auto" until resolve knows the set's size
        self.start_images = start_images  # the same
        self.register_buffer("p", torch.zeros(()))
        # sum of sign(D(x_real)) and the number of outputs since the last adjustment
        self.register_buffer("signs", torch.zeros(2))
        # real images seen at the adjustments so far (all ranks); the host's copy decides whether
        # the warm-up is over without waiting for the device (read once per session)
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        self._seen: int | None = None

    def resolve(self, num_images: int) -> None:
        """speed_images / start_images = auto, now that the set's size is known."""
        if self.speed_images == "auto":
            self.speed_images = auto_speed(num_images)
        if self.start_images == "auto":
            self.start_images = AUTO_START_EPOCHS * num_images

    def warmed_up(self) -> bool:
        if self.start_images == "auto":  # before resolve (the fast path's probe): still warming
            return False
        if self._seen is None:
            self._seen = int(self.seen)
        return self._seen >= int(self.start_images)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A checkpoint from before the warm-up existed: its run adjusted p from the start.
        state_dict.setdefault(prefix + "seen", torch.tensor(2**62, dtype=torch.long))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._seen = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.warmed_up():  # p is 0: every draw would keep the image as it is
            return x
        # Each op runs on the whole batch and is kept where the draw says: selecting the images
        # first would need their count on the host, a device sync per op.
        n = x.shape[0]
        for op in self.ops:
            chosen = torch.rand(n, 1, 1, 1, device=x.device) < self.p
            x = torch.where(chosen, op(x), x)
        return x

    def observe(self, real_logits: torch.Tensor) -> None:
        s = real_logits.detach().float().sign()
        self.signs += torch.stack([s.sum(), torch.tensor(float(s.numel()), device=s.device)])

    def adjust(self, images: int, reduce=lambda t: t) -> None:
        """One ADA step after ``images`` real images (all ranks); ``reduce`` sums over DDP ranks.
        During the warm-up (start_images) only the images are counted and p stays 0."""
        warm = self.warmed_up()
        self.seen += images
        self._seen = int(self.seen) if self._seen is None else self._seen + images
        if not warm:
            self.signs.zero_()
            return
        total = reduce(self.signs.clone())
        r_t = total[0] / total[1].clamp(min=1)
        step = torch.sign(r_t - self.target) * (images / float(self.speed_images))
        self.p.copy_((self.p + step).clamp(0.0, P_MAX))
        self.signs.zero_()

    @property
    def r_t(self) -> torch.Tensor:
        """The running E[sign(D(x_real))] since the last adjustment (for tests and logs)."""
        return self.signs[0] / self.signs[1].clamp(min=1)
