"""A run folder: its layout (``layout``: every name in it, the one module that spells them) and
its tables (``files``: the history's CSV rows and run.json)."""
