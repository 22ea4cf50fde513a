"""Find what is wrong with an image folder before it spoils a training run (003).

gan-lab audit data=<set> [data.root=<folder>] [audit.quarantine=true] [audit.report=<csv>]
"""

import sys
from pathlib import Path

from gan_lab.cli import meta_args
from gan_lab.config import compose
from gan_lab.config.validate import check_config
from gan_lab.data.audit import Problem, audit_decoded, quarantine, summarize, write_report
from gan_lab.data.datamodule import decode_channels
from gan_lab.data.decoded import cache_dir_for, decode_folder
from gan_lab.data.digits import write_digits
from gan_lab.errors import UserError, friendly


def audit(argv: list[str]) -> tuple[list[Problem], Path]:
    cfg = compose("audit", argv)
    check_config(cfg)  # the data.* keys
    data = cfg.data
    if data.source not in ("folder", "digits"):
        raise UserError(
            f"data={data.name} is not a folder of image files ({data.source}); nothing to audit."
        )
    root = data.root
    if data.source == "digits":  # the digits' PNGs, written on first use
        root = write_digits(root, data.get("cache_dir"))
    if not root or not Path(root).is_dir():
        raise UserError(f"data={data.name}: the folder {root} does not exist. {data.hint}")
    root = Path(root).resolve()
    cache = cache_dir_for(data.get("cache", True), data.get("cache_dir"))
    dec = decode_folder(root, data.image_size, decode_channels(data.channels), cache_dir=cache)
    scan, records = dec.scan, dec.records
    rules = {
        k: v for k, v in data.audit.items() if k != "max_skipped_share"
    }  # the command only reports
    problems = audit_decoded(dec, **rules)
    report = Path(cfg.audit.report or Path(cfg.paths.output_dir) / f"{data.name}.csv")
    write_report(problems, report)
    print(f"audit of {root}: {summarize(problems, len(records) + len(scan.others))}")
    for p in problems:
        print(
            f"  {'SKIP' if p.skipped else 'note'}  {p.kind:15s} {p.path.relative_to(root)}  ({p.detail})"
        )
    print(f"report: {report.resolve()}")
    if cfg.audit.quarantine:
        dest = root.with_name(root.name + "_quarantine")
        moved = quarantine(problems, root, dest)
        print(f"moved {len(moved)} files to {dest}")
    return problems, report


@friendly
def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if meta_args(argv, "audit", __doc__):
        return
    audit(argv)
