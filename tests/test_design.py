"""The house rules a newcomer relies on: citations resolve, and imports go one way."""

import ast
import re
from pathlib import Path

import yaml
from conftest import ROOT

SRC = ROOT / "src" / "gan_lab"
DESIGN = ROOT / "docs" / "design.md"
# "design §4", "003 §7.4", "003 §13–17": a document and a section (or a range of them).
CITATION = re.compile(r"\b(design|00[0-4]) §(\d+(?:\.\d+)*)(?:[–-](\d+(?:\.\d+)*))?")
# The commands' floor: gan_lab/cli/ (one module per `gan-lab <command>`) and gan_lab/__main__.py
# (`python -m gan_lab`). Nothing else in the package reaches up to it, so the rule holds for every
# command there is or will be, without a list of them to keep.
COMMANDS_FLOOR = "gan_lab.cli"


def cited_files() -> list[Path]:
    files = [ROOT / "train.py", ROOT / "invert.py", ROOT / "README.md"]
    for folder, patterns in (
        ("src", ("*.py",)),
        ("src/gan_lab/conf", ("*.yaml",)),
        ("tests", ("*.py",)),
        ("benchmarks", ("*.py", "*.md")),
        ("docs", ("*.md",)),  # the site's pages (make docs)
    ):
        files += [p for pattern in patterns for p in (ROOT / folder).rglob(pattern)]
    # The design page itself restates the source documents' steps: its text cites them directly.
    return [p for p in files if p != DESIGN]


def headings() -> list[str]:
    return [line for line in DESIGN.read_text().splitlines() if line.startswith("#")]


def resolves(doc: str, section: str, heads: list[str]) -> bool:
    token = re.compile(rf"\b{doc} §{re.escape(section)}(?![\d.]*\d)")
    return any(token.search(h) for h in heads)


def test_every_section_citation_names_a_heading_of_the_design_document():
    heads = headings()
    unresolved, count = [], 0
    for path in cited_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for doc, start, end in CITATION.findall(line):
                count += 1
                for section in filter(None, (start, end)):
                    if not resolves(doc, section, heads):
                        unresolved.append(f"{path.relative_to(ROOT)}:{n}: {doc} §{section}")
    assert count > 40  # the check found the citations it is meant to check
    assert not unresolved, "citations without a heading in docs/design.md:\n" + "\n".join(
        unresolved
    )


def test_the_user_pages_cite_no_sections():
    """README.md and the site's pages are written for users: "design §4" or "003 §7" belong on the
    design page, which the other pages link to."""
    pages = [ROOT / "README.md", *(p for p in (ROOT / "docs").glob("*.md") if p != DESIGN)]
    assert len(pages) > 10  # the site's pages are there to check
    cited = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in pages
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if CITATION.search(line)
    ]
    assert not cited, cited


def test_no_citation_of_documents_outside_the_repository():
    outside = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in cited_files()
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bSPEC\b|STYLE\.md|\bSTYLE \d", line)
    ]
    assert not outside


def imports(path: Path) -> set[str]:
    """Every module (and module.name) a file imports, relative imports made absolute."""
    names = set()
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..cli import y
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *filter(None, [node.module])])
            if base:
                names.add(base)
                names |= {f"{base}.{a.name}" for a in node.names}
    return names


def strings(path: Path) -> set[str]:
    """The string constants of a file: importlib.import_module("...") or a target spelled in code."""
    tree = ast.parse(path.read_text())
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def names_a_command(name: str) -> bool:
    return re.match(rf"{re.escape(COMMANDS_FLOOR)}(?:$|[.:])", name) is not None


def on_the_commands_floor(module: str) -> bool:
    return module == "gan_lab.__main__" or names_a_command(module)


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")


def test_only_the_commands_floor_imports_from_it_and_nothing_imports_tests():
    offenders = []
    for path in SRC.rglob("*.py"):
        name = module_name(path)
        found = imports(path) - {name}
        if not on_the_commands_floor(name):
            offenders += [f"{name} imports {n}" for n in sorted(found) if names_a_command(n)]
            offenders += [f"{name} names {s}" for s in sorted(strings(path)) if names_a_command(s)]
        offenders += [f"{name} imports {n}" for n in found if "conftest" in n]
    for path in (SRC / "conf").rglob("*.yaml"):  # a Hydra callback's _target_ is imported too
        if COMMANDS_FLOOR + "." in path.read_text():
            offenders.append(f"{path.relative_to(SRC)} names a module of {COMMANDS_FLOOR}")
    for path in (ROOT / "benchmarks").glob("*.py"):
        text = path.read_text()
        if "conftest" in text or re.search(r"sys\.path.*tests", text):
            offenders.append(f"{path.name} reaches into tests/")
    assert not offenders


def test_every_command_lives_on_the_commands_floor():
    from gan_lab.cli.main import COMMANDS

    floor = SRC / "cli"
    for name, (target, _) in COMMANDS.items():
        module = target.split(":")[0]
        assert names_a_command(module), f"gan-lab {name} runs {module}, outside {COMMANDS_FLOOR}"
        assert (floor / f"{module.rpartition('.')[2]}.py").is_file(), module
    # The check above sees an import of the floor where there is one (it would pass on nothing).
    assert any(names_a_command(n) for n in imports(floor / "sample.py"))
    assert names_a_command("gan_lab.cli") and not names_a_command("gan_lab.client")


def test_callbacks_read_the_module_through_its_public_attributes_only():
    for path in (SRC / "callbacks").glob("*.py"):
        assert not {n for n in imports(path) if n.startswith("gan_lab.training.module")}, path.name
        private = re.findall(r"pl_module\._\w+", path.read_text())
        assert not private, f"{path.name} reads {private}"


# The run folder's names (gan_lab.runs.layout): a string literal anywhere else in src/ that spells
# one is a second owner of the layout, which a change of the name would leave behind.
LAYOUT = SRC / "runs" / "layout.py"
RUN_FILE_NAMES = re.compile(
    r"\.ckpt\b|\bepoch_(?=[{*\dN]|$)|best@|evolution\.gif|fixed_noise\.pt|losses\.png"
    r"|\b(?:metrics|steps|ssim|warnings|scores|data_audit|loss)\.csv\b|scores\.md|run\.json"
    r"|report\.html|inversion\.json|failed\.txt|\.hydra\b|overrides\.yaml"
)
RUN_FOLDERS = {"checkpoints", "samples", "abandoned", "inversions", "preview", "tensorboard"}
RUN_FOLDERS |= {"csv", "mlruns", "wandb"}  # the other loggers' folders (conf/logger/*.yaml)
# The same word meaning something else: not a run folder's name.
NOT_RUN_FOLDERS = {
    ("metrics/extractors.py", "checkpoints"),  # torch.hub's own checkpoints/
    (
        "config/schema/commands.py",
        "preview",
    ),  # outputs/preview/<name>/: the preview tool's folder, not a run's
}


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, kinds)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _is_a_tag(parent: ast.AST | None) -> bool:
    """``add_image("samples/fixed_noise", ...)``: a logger's tag, not a path."""
    func = getattr(parent, "func", None)
    return isinstance(func, ast.Attribute) and func.attr in {"add_image", "add_text", "log"}


def _used_as_a_path(parent: ast.AST | None) -> bool:
    """``run / "samples"``, ``Path("samples")``, ``.glob("samples/*")``, ``p.name == "samples"``."""
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
        return True
    if isinstance(parent, ast.Call):
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in {"Path", "glob", "rglob", "joinpath", "with_name", "relative_to"}
    if isinstance(parent, ast.Compare):
        sides = [parent.left, *parent.comparators]
        return any(isinstance(s, ast.Attribute) and s.attr in {"name", "stem"} for s in sides)
    return False


def run_folder_names(path: Path) -> list[str]:
    """The string literals of ``path`` (not its docstrings or comments) that spell a name of the
    run folder's layout."""
    tree = ast.parse(path.read_text())
    skip, parents = _docstrings(tree), {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    where = path.relative_to(SRC).as_posix()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in skip:
            continue
        text = node.value
        parent = parents.get(id(node))
        if isinstance(parent, ast.JoinedStr):  # f"samples/fixed_noise{suffix}": as the f-string is
            parent = parents.get(id(parent))
        tag = _is_a_tag(parent)
        parts = set(text.split("/")) if "/" in text and not tag else set()
        if text in RUN_FOLDERS and _used_as_a_path(parents.get(id(node))):
            parts.add(text)
        folders = {p for p in parts & RUN_FOLDERS if (where, p) not in NOT_RUN_FOLDERS}
        if RUN_FILE_NAMES.search(text) or folders:
            found.append(f"{where}:{node.lineno}: {text!r}")
    return found


def test_one_module_spells_the_run_folders_names():
    """Exactly one module in src/ spells run-folder file names (issue 22): gan_lab.runs.layout."""
    assert run_folder_names(LAYOUT)  # the check sees the names where they are spelled
    offenders = [f for p in SRC.rglob("*.py") if p != LAYOUT for f in run_folder_names(p)]
    assert not offenders, "run-folder names outside gan_lab.runs.layout:\n" + "\n".join(offenders)


def test_the_configs_give_callbacks_the_run_folder_and_agree_with_the_layout():
    """Every callback is given the run folder (the layout names what is in it); the two names a
    config still spells — the audit report's file, the TensorBoard logger's folder — are the
    layout's, since the report looks for them there."""
    from gan_lab.runs import layout

    conf = SRC / "conf"
    callbacks = yaml.safe_load((conf / "callbacks" / "default.yaml").read_text())
    given = {name: c["dirpath"] for name, c in callbacks.items() if "dirpath" in c}
    assert len(given) >= 6 and set(given.values()) == {"${paths.output_dir}"}, given
    assert "filename" not in callbacks["checkpoint"]  # the layout names checkpoints
    folder = yaml.safe_load((conf / "data" / "folder.yaml").read_text())
    assert folder["audit_report"] == f"${{paths.output_dir}}/{layout.AUDIT_CSV}"
    logger = yaml.safe_load((conf / "logger" / "tensorboard.yaml").read_text())["tensorboard"]
    assert (logger["save_dir"], logger["name"]) == ("${paths.output_dir}", layout.TENSORBOARD)


# The rooms of src/gan_lab from the ground floor up (docs/design.md, "Where things are"): a
# module imports only from its own room or a room below it, so a newcomer can read bottom-up and
# no change can tie two rooms in a knot. A new room is placed here on purpose.
FLOORS = (
    ("gan_lab.errors", "gan_lab.progress", "gan_lab.conf"),  # conf: the YAML files' package
    ("gan_lab.hardware", "gan_lab.runs", "gan_lab.core", "gan_lab.models"),
    ("gan_lab.data",),
    ("gan_lab.config",),
    ("gan_lab.training",),  # builds and runs the GAN of core/ from a config
    ("gan_lab.metrics",),
    ("gan_lab.tune",),
    ("gan_lab.report",),
    ("gan_lab.latent", "gan_lab.callbacks"),
    ("gan_lab.cli",),
    ("gan_lab.__main__",),
)
ROOT_MODULES = ("errors", "progress", "hardware")  # besides __init__ and __main__: at most 5


def room(module: str) -> str:
    return ".".join(module.split(".")[:2])


def runtime_imports(path: Path, modules: set[str]) -> set[str]:
    """The gan_lab modules a file makes Python import when it runs (in a function too): for
    ``from a.b import c`` the module a.b.c where c is one, else a.b; imports under
    ``if TYPE_CHECKING:`` are for the type checker only and are left out."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for n in ast.walk(block)
    }
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *filter(None, [node.module])])
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {n for n in found if n in modules}


def module_graph() -> dict[str, set[str]]:
    """module → the gan_lab modules it imports (runtime_imports)."""
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    return {
        name: runtime_imports(path, set(paths)) - {name, "gan_lab"} for name, path in paths.items()
    }


def test_every_import_points_down_a_floor_or_stays_in_its_room():
    floor = {r: i for i, rooms in enumerate(FLOORS) for r in rooms}
    graph = module_graph()
    unplaced = sorted({room(m) for m in graph} - set(floor) - {"gan_lab"})
    assert not unplaced, f"rooms missing from FLOORS: {unplaced}"
    upward = [
        f"{a} imports {b}"
        for a, targets in graph.items()
        for b in targets
        if room(a) != "gan_lab" and room(a) != room(b) and floor[room(b)] >= floor[room(a)]
    ]
    assert not upward, upward
    loose = sorted(p.stem for p in SRC.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert loose == sorted(ROOT_MODULES) and len(loose) <= 5


def test_no_module_imports_itself_through_others():
    """No circle of imports between modules: Tarjan's strongly connected components."""
    graph, index, low, stack, on, circles = module_graph(), {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_no_source_file_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long
