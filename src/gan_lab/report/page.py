"""The report's HTML: Jinja2 templates (``templates/``) that escape every value by default.

Python gathers each section's data — text, numbers, and files of the folder as ``links.Link`` or
``links.Picture`` — and the templates alone write markup. Nothing in report/ builds HTML by hand
or marks a string as safe (no ``markupsafe.Markup``): pictures are data URIs or relative links,
so a file or class named ``<script>…`` in a folder is shown as text. The Environment escapes
everything a template prints except the output of the templates' own macros. StrictUndefined
turns a key a template expects and a section forgot into an error, not a blank.
"""

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from gan_lab.report.links import Link, Picture
from gan_lab.runs import layout
from gan_lab.runs.safe_io import write_atomic

ENV = Environment(
    loader=PackageLoader("gan_lab.report", "templates"),
    autoescape=True,  # every template, whatever its name: none of them writes anything but HTML
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.tests["link"] = lambda value: isinstance(value, Link)
ENV.tests["picture"] = lambda value: isinstance(value, Picture)
ENV.globals["layout"] = layout  # file names in captions come from their one owner


@dataclass(frozen=True)
class Section:
    """One ``<section>`` of a page: its anchor, its heading, the template that draws ``data``."""

    id: str
    title: str
    template: str
    data: dict


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole document (templates/page.html.j2): a header, a navigation bar, the sections."""
    return ENV.get_template("page.html.j2").render(
        title=title, subtitle=subtitle, sections=sections
    )


def write(folder: Path, title: str, subtitle: str, sections: list[Section]) -> Path:
    """Write ``<folder>/report.html`` atomically; returns its path."""
    return write_atomic(folder / layout.REPORT, render(title, subtitle, sections).encode("utf-8"))
