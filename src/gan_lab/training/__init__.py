"""What trains: a run built from its config (train.py), the LightningModule (module.py, the parts
its __init__ builds in module_parts.py), the fast path (its probe in fast_path_probe.py, its
choice in fast_path.py), the schedule, recipe=auto and its budget rule, and a generator loaded from a
checkpoint. It stands on gan_lab.core (the mathematics), gan_lab.models, gan_lab.data and
gan_lab.runs (the run folder)."""
