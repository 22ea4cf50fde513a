"""Latent-space tools (design §7): inversion, coordinate edits, interpolation, generator comparison.

They go through gan_lab.training.checkpoint only and know nothing of the training code.
"""
