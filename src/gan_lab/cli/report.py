"""Write report.html: gan-lab report <run, multirun or inversion folder>

Works at any time: after a run ended, was stopped or crashed, or while it still trains.
"""

import sys

from gan_lab.cli import meta_args
from gan_lab.cli.args import unquoted
from gan_lab.errors import UserError, friendly
from gan_lab.report import write_report

USAGE = "gan-lab report <run, multirun or inversion folder>"


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if meta_args(argv, None, __doc__):
        return
    if len(argv) != 1 or argv[0].startswith("-"):
        raise UserError(f"pass exactly one folder. Usage: {USAGE}")
    folder = unquoted(argv[0].removeprefix("dir="))
    print(f"report: {write_report(folder)}")
