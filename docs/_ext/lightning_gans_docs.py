"""The site's own Sphinx directives: every number and every list of parts on a page is read at build time.

* ``results-table``: a table from ``benchmarks/results/<file>.json``, with the protocol and the machine that
  file states below it, so a page cannot disagree with its results file. Rows whose ``:target:`` test fails
  are shown, marked "missed", never dropped.
* ``variant-picture``: a picture made by ``benchmarks/variant_pictures.py``, captioned from the recipe, budget
  and steps recorded in ``benchmarks/results/variant_pictures.json``; a missing picture must say why
  (``:missing:``), else the build warns (and ``-W`` fails).
* ``registry-parts``: every part registered through the entry points (the built-ins and any installed plugin),
  by kind, with its class and the first line of its docstring: a new part appears without editing a page.
* ``results-value``: one number from a results file, inline in a sentence (``{results-value}`` role:
  ``file.json:path[*scale][:format]``; ``results.row=dcgan&cpu_minutes=80.fid`` picks a row by its fields).

Column specs of ``results-table`` (``:columns:``, separated by ``;``) read ``Header=path[*scale][:format]``:
``path`` is dotted into each row (``metrics.fid``; ``_key`` is the row's key when the rows are a mapping), a
``{"mean": m, "se": s}`` value prints as ``m ± s``, a missing value as ``–``.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective, SphinxRole

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
PICTURES = RESULTS / "variant_pictures.json"
MACHINE_KEYS = ("machine", "hardware", "torch")


def load(file: str) -> Any:
    path = RESULTS / file
    if not path.is_file():
        raise FileNotFoundError(f"no results file {path.relative_to(REPO)}")
    return json.loads(path.read_text())


def dig(value: Any, path: str) -> Any:
    """``path``'s dotted parts: a key, a list index, or a ``:where:`` clause (``row=dcgan&cpu_minutes=80``) for the
    first row of a list it selects (no dot in a value), so that a sentence names its row, not its place."""
    for part in path.split(".") if path else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, list) and "=" in part:
            rows = [row for row in value if isinstance(row, dict) and selected(row, part, alternatives=False)]
            value = rows[0] if rows else None
            if value is None:
                return None
        else:
            return None
    return value


COLUMN = re.compile(r"^(?P<header>[^=]+)=(?P<path>[\w.\-/]*)(?:\*(?P<scale>[\d.eE+-]+))?(?::(?P<fmt>[^;]+))?$")


# the column sets that several tables share
PRESETS = {
    "fashion": "row=row; seed=seed; train CPU s=train_cpu_s:.0f; G steps=generator_steps; FID=metrics.fid:.3f; "
    "KID ×10³=metrics.kid*1000:.1f; precision=metrics.precision:.3f; recall=metrics.recall:.3f; "
    "density=metrics.density:.3f; coverage=metrics.coverage:.3f; classes covered=metrics.classes_covered:.0f; "
    "class KL=metrics.class_kl:.3f",
    "toy": "row=row; ring modes (of 8)=ring_modes:.1f; ring HQ %=ring_high_quality:.1f; ring rKL=ring_reverse_kl:.3f; "
    "grid modes (of 25)=grid_modes:.1f; grid HQ %=grid_high_quality:.1f; grid rKL=grid_reverse_kl:.3f; "
    "CPU s per run=cpu_seconds_per_run:.0f; runs=runs",
    "toy_runs": "row=row; mixture=mixture; seed=seed; batches=batches; lr=lr; modes=modes:.0f; "
    "HQ %=high_quality*100:.1f; rKL=reverse_kl:.3f; CPU s=cpu_seconds:.0f",
}


def parse_columns(spec: str) -> list[tuple[str, str, float, str]]:
    if spec.strip().startswith("preset:"):
        name = spec.strip().removeprefix("preset:").strip()
        if name not in PRESETS:
            raise ValueError(f"unknown column preset {name!r}; choose from {sorted(PRESETS)}")
        spec = PRESETS[name]
    columns = []
    for item in (part.strip() for part in spec.replace("\n", " ").split(";")):
        if not item:
            continue
        match = COLUMN.match(item)
        if match is None:
            raise ValueError(f"bad column {item!r}: write Header=path[*scale][:format]")
        scale = float(match["scale"]) if match["scale"] else 1.0
        columns.append((match["header"].strip(), match["path"], scale, (match["fmt"] or "").strip()))
    return columns


def show(value: Any, scale: float, fmt: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, dict) and {"mean", "se"} <= set(value):
        return f"{show(value['mean'], scale, fmt)} ± {show(value['se'], scale, fmt)}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        number = value * scale if scale != 1.0 else value
        if fmt:
            return format(number, fmt)
        return f"{number:,}" if isinstance(number, int) or float(number).is_integer() else f"{number:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def rows_of(data: Any, path: str) -> list[Any]:
    rows = dig(data, path)
    if isinstance(rows, dict) and rows and all(isinstance(value, dict) for value in rows.values()):
        return [{"_key": key, **value} for key, value in rows.items()]
    if isinstance(rows, dict):  # one row
        return [{"_key": path.rsplit(".", 1)[-1], **rows}]
    if isinstance(rows, list):
        return [row for row in rows if isinstance(row, (dict, list, str))]
    raise ValueError(f"{path!r} holds no rows (a list or mapping of mappings)")


def selected(row: dict[str, Any], where: str, alternatives: bool = True) -> bool:
    """``field=a,b`` clauses joined by ``&``: the row's field (dotted) is one of the values, or the whole text
    (row names hold commas; ``alternatives=False``: only the whole text); a number matches a number of equal
    value (``5`` matches 5.0)."""

    def equal(value: Any, wanted: str) -> bool:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(wanted) == value
            except ValueError:
                return False
        return show(value, 1.0, "") == wanted

    for clause in (c.strip() for c in where.split("&") if c.strip()):
        field, _, values = clause.partition("=")
        value = dig(row, field.strip())
        if not any(equal(value, v.strip()) for v in [values, *(values.split(",") if alternatives else [])]):
            return False
    return True


def order(rows: list[dict[str, Any]], field: str, values: str) -> list[dict[str, Any]]:
    wanted = [v.strip() for v in values.split(",")]
    rank = {v: i for i, v in enumerate(wanted)}
    return sorted(rows, key=lambda row: rank.get(show(dig(row, field), 1.0, ""), len(wanted)))


def meets(row: dict[str, Any], target: str) -> bool:
    """``path OP number`` (``>=``, ``<=``, ``>``, ``<``, ``==``)."""
    match = re.match(r"^\s*([\w.\-/]+)\s*(>=|<=|==|>|<)\s*([-\d.eE+]+)\s*$", target)
    if match is None:
        raise ValueError(f"bad target {target!r}: write path OP number")
    value = dig(row, match[1])
    if not isinstance(value, (int, float)):
        return False
    bound = float(match[3])
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound,
            "==": value == bound}[match[2]]  # fmt: skip


def table_node(headers: list[str], body: list[list[str]], title: str | None) -> nodes.table:
    table = nodes.table(classes=["results-table"])
    if title:
        table += nodes.title(text=title)
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    for cells in [headers]:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", nodes.paragraph(text=cell))
        head += row
    tbody = nodes.tbody()
    group += tbody
    for cells in body:
        row = nodes.row()
        for cell in cells:
            row += nodes.entry("", nodes.paragraph(text=cell))
        tbody += row
    return table


def protocol_nodes(data: dict[str, Any], file: str, path: str) -> list[nodes.Node]:
    protocol = dig(data, path) if path else None
    if not path and isinstance(data.get("protocol"), dict):
        protocol_for_machine = data["protocol"]
    else:
        protocol_for_machine = protocol if isinstance(protocol, dict) else {}
    box = nodes.container(classes=["results-protocol"])
    source = nodes.paragraph()
    source += nodes.strong(text="Source: ")
    source += nodes.literal(text=f"benchmarks/results/{file}")
    stated = {**protocol_for_machine, **data}
    machine = [f"{k}: {stated[k]}" for k in MACHINE_KEYS if isinstance(stated.get(k), str)]
    if machine:
        source += nodes.Text(" (" + "; ".join(machine) + ")")
    box += source
    if isinstance(protocol, str):
        text = "Protocol: " + " ".join(protocol.lstrip(":, ").split())
        box += code_spans(text.replace("``", "`"), "`")
    elif isinstance(protocol, dict):
        parts = []
        for key, value in protocol.items():
            if key in MACHINE_KEYS:
                continue
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            parts.append(f"{key.replace('_', ' ')}: {text}")
        box += nodes.paragraph(text="Protocol: " + "; ".join(parts) + ".")
    return [box]


class ResultsTable(SphinxDirective):
    required_arguments = 1
    option_spec = {
        "rows": directives.unchanged,
        "columns": directives.unchanged_required,
        "where": directives.unchanged,
        "order": directives.unchanged,
        "target": directives.unchanged,
        "caption": directives.unchanged,
        "protocol": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        file = self.arguments[0]
        self.env.note_dependency(str(RESULTS / file))
        try:
            data = load(file)
            rows = rows_of(data, self.options.get("rows", "results"))
            if "where" in self.options:
                rows = [row for row in rows if selected(row, self.options["where"])]
            if "order" in self.options:
                field, _, values = self.options["order"].partition("=")
                rows = order(rows, field.strip(), values)
            if not rows:
                raise ValueError("no row matches")
            columns = parse_columns(self.options["columns"])
            headers = [header for header, *_ in columns]
            body = [[show(dig(row, path), scale, fmt) for _, path, scale, fmt in columns] for row in rows]
            if "target" in self.options:
                target = self.options["target"]
                headers.append(f"target {target}")
                for cells, row in zip(body, rows):
                    cells.append("met" if meets(row, target) else "missed")
        except (ValueError, FileNotFoundError) as error:
            raise self.error(f"results-table {file}: {error}") from error
        protocol = self.options.get("protocol", "protocol")
        return [table_node(headers, body, self.options.get("caption")), *protocol_nodes(data, file, protocol)]


class ResultsValue(SphinxRole):
    """``{results-value}`file.json:path[*scale]:format``` (scale and format optional): one number, inline; the
    scale multiplies it first, as in a ``results-table`` column (``every_minutes*60:.0f``: minutes as seconds)."""

    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        file, _, rest = self.text.partition(":")
        path, _, fmt = rest.partition(":")
        path, _, factor = path.partition("*")
        try:
            scale = float(factor) if factor else 1.0
        except ValueError:
            return [], [self.inliner.reporter.error(f"results-value: bad scale {factor!r}", line=self.lineno)]
        self.env.note_dependency(str(RESULTS / file))
        try:
            value = dig(load(file), path)
        except FileNotFoundError as error:
            return [], [self.inliner.reporter.error(str(error), line=self.lineno)]
        if value is None:
            message = f"results-value: {file} has no {path!r}"
            return [], [self.inliner.reporter.error(message, line=self.lineno)]
        return [nodes.inline(text=show(value, scale, fmt), classes=["results-value"])], []


class VariantPicture(SphinxDirective):
    required_arguments = 1
    option_spec = {"missing": directives.unchanged, "width": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        self.env.note_dependency(str(PICTURES))
        record = json.loads(PICTURES.read_text()).get("pictures", {}) if PICTURES.is_file() else {}
        entry = record.get(name)
        png = RESULTS / f"{name}_samples.png"
        if entry is None or not png.is_file():
            if "missing" in self.options:
                note = nodes.admonition(classes=["missing-picture"])
                note += nodes.title(text="No picture yet")
                note += nodes.paragraph(text=f"{name}: {self.options['missing']}")
                return [note]
            raise self.error(
                f"variant-picture {name}: not in {PICTURES.relative_to(REPO)} (run benchmarks/variant_pictures.py)"
                " or give :missing: with the reason"
            )
        source_dir = Path(self.env.doc2path(self.env.docname)).parent
        uri = os.path.relpath(png, source_dir)
        figure = nodes.figure(classes=["variant-picture"])
        image = nodes.image(uri=uri, alt=f"{entry['variant']} samples ({entry['recipe']})")
        if "width" in self.options:
            image["width"] = self.options["width"]
        figure += image
        caption = (
            f"{entry['variant']}: {entry['shows']}. {entry['recipe']}, {entry['budget']}; "
            f"{entry['generator_steps']:,} generator steps, seed {entry['seed']} "
            f"(benchmarks/variant_pictures.py, {entry['date']}; results: {entry['results_file']})."
        )
        figure += nodes.caption(text=caption)
        return [figure]


class RegistryParts(SphinxDirective):
    """Every registered part of one kind (the argument, e.g. ``variants``), or of every kind."""

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        from lightning_gans import registry

        kinds = [self.arguments[0]] if self.arguments else list(registry.REGISTRIES)
        result: list[nodes.Node] = []
        for plural in kinds:
            if plural not in registry.REGISTRIES:
                raise self.error(f"registry-parts: unknown kind {plural!r}; choose from {list(registry.REGISTRIES)}")
            reg = registry.REGISTRIES[plural]
            body = []
            for entry in sorted(reg.entries(), key=lambda e: e.name):
                try:
                    cls = reg.load_entry(entry)
                    summary = (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ").removesuffix(" ::")
                except Exception as error:  # a broken plugin is listed, as `lightning-gans list --check` does
                    summary = f"does not import: {error}"
                body.append([entry.name, entry.class_path, f"{entry.distribution} {entry.version}", summary])
            table = table_node(["name", "class", "distribution", "summary"], body, f"{plural} ({len(body)})")
            # the class column links to the API reference where the class is documented there
            for row in table.traverse(nodes.row):
                cells = list(row.traverse(nodes.entry))
                if len(cells) == 4 and "." in cells[1].astext():
                    target = cells[1].astext()
                    xref = _class_xref(target)
                    cells[1].children = [nodes.paragraph("", "", xref)]
            for row in table.traverse(nodes.row):
                cells = list(row.traverse(nodes.entry))
                if len(cells) == 4:
                    cells[3].children = [code_spans(cells[3].astext())]
            result.append(table)
        return result


def code_spans(text: str, mark: str = "``") -> nodes.paragraph:
    """A docstring line's ``code`` spans as literals, the rest as text (a summary is one reST paragraph)."""
    paragraph = nodes.paragraph()
    for i, part in enumerate(text.split(mark)):
        if part:
            paragraph += nodes.literal(text=part) if i % 2 else nodes.Text(part)
    return paragraph


def _class_xref(target: str) -> nodes.Node:
    from sphinx import addnodes

    ref = addnodes.pending_xref("", refdomain="py", reftype="class", reftarget=target, refexplicit=False, refwarn=False)
    ref += nodes.literal(text=target)
    return ref


class ApiPackage(SphinxDirective):
    """A package's docstring, then every public module in it (found on disk, so a new module appears), each
    under its own heading with its members."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        import importlib
        import pkgutil

        from docutils.statemachine import StringList
        from sphinx.util.nodes import nested_parse_with_titles

        name = self.arguments[0]
        package = importlib.import_module(name)
        # the pages are MyST Markdown, so the generated text is too; autodoc writes reST, hence eval-rst
        lines = ["```{eval-rst}", f".. automodule:: {name}", "   :no-members:", "```", ""]
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module = f"{name}.{info.name}"
            lines += [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", "```", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"api-package {name}"), container)
        return list(container.children)


def variant_docstring(name: str) -> tuple[str, str]:
    """(paper, algorithm box) of a registered variant: its module docstring's first paragraph, and every
    indented block of that docstring (the pseudo-code of the training step the file implements)."""
    import importlib

    from lightning_gans import registry

    entry = registry.variants.entry(name)
    module = importlib.import_module(entry.target.split(":")[0])
    lines = (module.__doc__ or "").strip("\n").split("\n")
    paragraph: list[str] = []
    for line in lines:
        if not line.strip():
            break
        paragraph.append(line.strip())
    paper = " ".join(paragraph).removesuffix("::").removesuffix(" ::").strip()
    # the indented blocks after the first paragraph, each dedented; prose between two blocks keeps them apart
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines[len(paragraph) :] + [""]:
        if line.startswith("  ") or (current and not line.strip()):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    box = [textwrap.dedent("\n".join(block)).strip("\n") for block in blocks]
    return paper, "\n\n".join(b for b in box if b)


def recipes_of(name: str) -> list[str]:
    """The recipes whose model is the variant ``name`` (by registry name or class path)."""
    import yaml

    from lightning_gans import registry

    class_path = registry.variants.entry(name).class_path
    found = []
    for path in sorted((REPO / "recipes").glob("*.yaml")):
        model = (yaml.safe_load(path.read_text()) or {}).get("model") or {}
        if isinstance(model, dict) and model.get("class_path") in (name, class_path):
            found.append(f"recipes/{path.name}")
    return found


ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})")


class VariantCard(SphinxDirective):
    """A variant's paper (with its arXiv link), the algorithm box from its file and the recipes that train it:
    read from the code, so the page cannot disagree with it."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        from lightning_gans import registry

        name = self.arguments[0]
        if name not in registry.variants:
            raise self.error(f"variant-card: no registered variant {name!r}")
        paper, box = variant_docstring(name)
        entry = registry.variants.entry(name)
        card = nodes.container(classes=["variant-card"])
        line = nodes.paragraph()
        line += nodes.strong(text="Paper: ")
        position = 0
        for match in ARXIV.finditer(paper):
            line += code_spans(paper[position : match.start()]).children
            url = f"https://arxiv.org/abs/{match[1]}"
            line += nodes.reference(match[0], match[0], refuri=url)
            position = match.end()
        line += code_spans(paper[position:]).children
        card += line
        where = nodes.paragraph()
        where += nodes.strong(text="Registry name: ")
        where += nodes.literal(text=name)
        where += nodes.Text("; class ")
        where += _class_xref(entry.class_path)
        card += where
        if box:
            card += nodes.paragraph(text="Algorithm, as the variant file implements it (its docstring):")
            card += nodes.literal_block(box, box, language="text")
        recipes = recipes_of(name)
        line = nodes.paragraph()
        line += nodes.strong(text="Recipes: ")
        if recipes:
            for i, recipe in enumerate(recipes):
                if i:
                    line += nodes.Text(", ")
                line += nodes.literal(text=recipe)
            line += nodes.Text(" (train one: ")
            line += nodes.literal(text=f"lightning-gans fit --config {recipes[0]}")
            line += nodes.Text(")")
        else:
            line += nodes.Text("none; build it from Python or name it in a recipe of your own")
        card += line
        return [card]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("variant-card", VariantCard)
    app.add_directive("api-package", ApiPackage)
    app.add_directive("results-table", ResultsTable)
    app.add_directive("variant-picture", VariantPicture)
    app.add_directive("registry-parts", RegistryParts)
    app.add_role("results-value", ResultsValue())
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
