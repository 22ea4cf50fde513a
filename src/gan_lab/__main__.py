"""``python -m gan_lab <command> ...``: the same program as the ``gan-lab`` console script, for a
checkout that is not installed (PYTHONPATH=src) and for subprocesses (``sys.executable``)."""

import sys

from gan_lab.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
