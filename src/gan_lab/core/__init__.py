"""The GAN's mathematics, with nothing of Lightning or Hydra: one training step (step.py), the
losses, DiffAugment and ADA, the EMA of G, the random streams and the latent noise. The floor
above (gan_lab.training) builds and runs them; tests/test_design.py keeps the imports pointing
down."""
