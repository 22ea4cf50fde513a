"""The YAML configs of gan-lab (Hydra reads them as pkg://gan_lab.conf)."""
