"""What trains: a run built from its config (train.py), the LightningModule (module.py), the fast
path and its choice, the schedule, recipe=auto and its budget rule, and a generator loaded from a
checkpoint. It stands on gan_lab.core (the mathematics), gan_lab.models, gan_lab.data and
gan_lab.runs (the run folder)."""
