"""HTML building blocks of a report: one file, no external resources, readable offline.

Pictures drawn for the page (plots, thumbnails) are inlined as data URIs; files the folder
already holds are inlined when small and linked relatively otherwise, and every picture links
to its file. Relative links keep working when the folder is copied or moved as a whole. The
only script (sortable tables, the epoch slider) is inline and depends on nothing.
"""

import base64
import html
import json
import os
from pathlib import Path
from urllib.parse import quote

# Files up to this size are embedded: the page then shows them even when copied alone.
INLINE_LIMIT = 400_000
MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def href(folder: Path, path: Path) -> str:
    """``path`` relative to the page's folder, URL-quoted (run folders hold '=' and ',')."""
    rel = Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()
    return quote(rel, safe="/=,@+-._~")


def link(folder: Path, path: Path, text: str | None = None) -> str:
    path = Path(path)
    if not path.exists():
        return esc(text or path.name)
    return f'<a href="{href(folder, path)}">{esc(text or path.name)}</a>'


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def img_bytes(data: bytes, alt: str, mime: str = "image/png", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} src="{data_uri(data, mime)}" alt="{esc(alt)}">'


def picture(folder: Path, path: Path, alt: str, cls: str = "", inline: bool = True) -> str:
    """A file of the folder as a picture that links to the file: embedded if small, else linked."""
    path = Path(path)
    if not path.exists():
        return f'<p class="missing">{esc(path.name)}: not written</p>'
    klass = f' class="{cls}"' if cls else ""
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    if inline and path.stat().st_size <= INLINE_LIMIT:
        src = data_uri(path.read_bytes(), mime)
    else:
        src = href(folder, path)
    return f'<a href="{href(folder, path)}"><img{klass} src="{src}" alt="{esc(alt)}"></a>'


def figure(body: str, caption: str = "") -> str:
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f"<figure>{body}{cap}</figure>"


def table(
    header: list[str],
    rows: list[list],
    sortable: bool = False,
    cls: str = "",
    raw: bool = False,
    row_classes: list[str] | None = None,
) -> str:
    """Cells are escaped unless ``raw`` (they then hold links or pictures built here)."""
    klass = " ".join(filter(None, [cls, "sortable" if sortable else ""]))
    attr = f' class="{klass}"' if klass else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = []
    for i, row in enumerate(rows):
        rc = row_classes[i] if row_classes and row_classes[i] else ""
        tr = f'<tr class="{rc}">' if rc else "<tr>"
        cells = "".join(f"<td>{c if raw else esc(c)}</td>" for c in row)
        lines.append(f"{tr}{cells}</tr>")
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def key_values(pairs: list[tuple[str, str]]) -> str:
    """A two-column fact table; values are HTML built by the caller (escaped where needed)."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def section(sid: str, title: str, body: str) -> str:
    return f'<section id="{esc(sid)}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def slider(folder: Path, frames: list[tuple[str, Path]], alt: str) -> str:
    """Every frame, one at a time, chosen with a range input (and a play button). The frames are
    linked, not embedded: a 300-epoch run's grids would make the page tens of megabytes."""
    srcs = [href(folder, p) for _, p in frames]
    labels = [label for label, _ in frames]
    last = len(frames) - 1
    data = esc(json.dumps({"src": srcs, "label": labels}))
    return (
        f'<div class="slider" data-frames="{data}">'
        f'<div class="controls"><button type="button" class="play">play</button>'
        f'<input type="range" min="0" max="{last}" value="{last}" step="1" aria-label="frame">'
        f'<span class="label">{esc(labels[last])}</span> '
        f'<a class="file" href="{srcs[last]}">file</a></div>'
        f'<img class="frame pixel" src="{srcs[last]}" alt="{esc(alt)}"></div>'
    )


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d1dc}nav{padding:6px 28px;background:#e8ebf0;font-size:14px}
nav a{margin-right:14px}main{padding:8px 28px 40px;max-width:1250px}
section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:6px 18px 14px;
margin:14px 0}h2{font-size:18px;border-bottom:1px solid #e3e7ec;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border:1px solid #dde2e8;padding:3px 8px;text-align:left;vertical-align:top}
thead th{background:#f0f2f5}table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th::after{content:" \\2195";color:#9aa5b1}
table.facts th{background:#f7f8fa;font-weight:600;white-space:nowrap}
tr.best td{background:#e6f4ea;font-weight:600}tr.warn td{background:#fdf1e6}
figure{display:inline-block;margin:6px 14px 10px 0;vertical-align:top}
figcaption{font-size:13px;color:#4a5563;max-width:640px}img{max-width:100%}
img.pixel{image-rendering:pixelated}img.grid{width:320px}img.thumb{width:150px}
img.small{width:64px;height:64px;max-width:none;object-fit:contain;background:#eee}img.row{height:56px}
img.plot{max-width:1150px}.note{color:#4a5563;font-size:14px}.missing{color:#a33}
.warnbox{background:#fdf1e6;border-left:4px solid #e8710a;padding:6px 10px;margin:6px 0}
.slider .controls{display:flex;gap:10px;align-items:center;margin:4px 0}
.slider input{width:420px}.slider img.frame{width:420px}
pre{background:#f3f4f6;padding:8px;overflow:auto;font-size:12px;max-height:420px}
code{background:#f3f4f6;padding:0 3px}details{margin:6px 0}
.strip{display:flex;flex-wrap:wrap;gap:6px}.strip figure{margin:0}
.scroll{overflow-x:auto}li{overflow-wrap:anywhere}td{overflow-wrap:break-word}
"""

# Sort a table by a clicked column (numbers numerically, empty cells last; a second click
# reverses), and drive the sliders. Nothing else; no network, no errors when a page has neither.
SCRIPT = """
(function(){
function key(td){var t=(td?td.textContent:'').trim();var n=parseFloat(t);
return t===''?null:(isNaN(n)||!/^[-+]?[0-9.]/.test(t)?t.toLowerCase():n);}
document.querySelectorAll('table.sortable').forEach(function(tbl){
tbl.querySelectorAll('thead th').forEach(function(th,col){th.addEventListener('click',function(){
var body=tbl.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
var dir=th.dataset.dir==='asc'?-1:1;th.parentNode.querySelectorAll('th').forEach(function(h){
delete h.dataset.dir;});th.dataset.dir=dir===1?'asc':'desc';
rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
if(x===null)return 1;if(y===null)return -1;if(typeof x!==typeof y){x=String(x);y=String(y);}
return x<y?-dir:x>y?dir:0;});rows.forEach(function(r){body.appendChild(r);});});});});
document.querySelectorAll('.slider').forEach(function(box){
var f=JSON.parse(box.dataset.frames);var input=box.querySelector('input');
var img=box.querySelector('img.frame');var label=box.querySelector('.label');
var file=box.querySelector('a.file');var play=box.querySelector('.play');var timer=null;
function show(i){input.value=i;img.src=f.src[i];file.href=f.src[i];label.textContent=f.label[i];}
input.addEventListener('input',function(){show(parseInt(input.value,10));});
play.addEventListener('click',function(){if(timer){clearInterval(timer);timer=null;
play.textContent='play';return;}play.textContent='pause';var i=0;show(0);
timer=setInterval(function(){i+=1;if(i>=f.src.length){clearInterval(timer);timer=null;
play.textContent='play';return;}show(i);},250);});});
})();
"""


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The whole document; ``sections`` are (id, title, body) and get a navigation bar."""
    nav = "".join(f'<a href="#{esc(sid)}">{esc(t)}</a>' for sid, t, _ in sections)
    body = "".join(section(sid, t, b) for sid, t, b in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{subtitle}</p></header><nav>{nav}</nav>"
        f"<main>{body}</main><script>{SCRIPT}</script></body></html>\n"
    )
