"""Build-time pages of jaxcurr's docs.

* ``builder-inited``: one API page per public module of :data:`PACKAGES` (every module and
  package under them whose dotted name has no part starting with ``_``), written to
  ``api/generated/`` and listed by ``api/index.md``. A package's page documents its
  ``__all__`` (the names users import from it) and lists its submodules; a module's page
  documents what it defines.
* the ``jaxcurr-settings`` directive (reST: in MyST pages inside ``{eval-rst}``): one table
  per config section of an experiment kind,
  read from the kind's default config (its dataclasses' fields, values, types, sweepable)
  with the section's docstring, so the tables follow the code.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import os
import pkgutil
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

PACKAGES = ("transforms", "teachers", "signals", "envs", "students", "curricula", "kinds", "run",
            "core", "datasets")
TOP_FIELDS = ("name", "description", "sweep")


def public_modules(package: str) -> list[str]:
    """``jaxcurr.<package>`` and its public submodules, depth first."""
    root = importlib.import_module(f"jaxcurr.{package}")
    names = [root.__name__]
    if hasattr(root, "__path__"):
        for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                names.append(info.name)
    return sorted(names)


def module_page(name: str) -> str:
    """The reST of one module's API page."""
    module = importlib.import_module(name)
    lines = [name, "=" * len(name), "", f".. automodule:: {name}"]
    if hasattr(module, "__all__"):
        lines.append("   :imported-members:")
    if hasattr(module, "__path__"):
        children = [m.name for m in pkgutil.iter_modules(module.__path__)
                    if not m.name.startswith("_")]
        if children:
            lines += ["", "Submodules", "----------", "", ".. toctree::", "   :maxdepth: 1", ""]
            lines += [f"   {name}.{child}" for child in sorted(children)]
    return "\n".join(lines) + "\n"


def write_api_pages(app) -> None:
    """Writes ``api/generated/<module>.rst`` for every public module (unchanged files are not
    rewritten, so Sphinx rereads only what changed)."""
    out = Path(app.srcdir) / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for package in PACKAGES:
        for name in public_modules(package):
            wanted[f"{name}.rst"] = module_page(name)
    for stale in out.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for file, text in wanted.items():
        path = out / file
        if not path.exists() or path.read_text() != text:
            part = path.with_name(f".{file}.{os.getpid()}")  # whole files for a parallel build
            part.write_text(text)
            os.replace(part, path)


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def _toml(value) -> str:
    """A value as written in TOML (JSON's spelling of lists, strings and booleans)."""
    return json.dumps(_plain(value))


def settings_rst(kind_name: str) -> list[str]:
    """reST for every section of the kind ``kind_name``: its docstring and a table of its keys."""
    from jaxcurr.kinds import get_kind

    kind = get_kind(kind_name)
    config = kind.from_dict({})
    lines = [kind.description[:1].upper() + kind.description[1:] + ".", ""]
    for top in dataclasses.fields(config):
        if top.name in TOP_FIELDS:
            continue
        values = getattr(config, top.name)  # the kind's defaults, which may differ from the
        section = type(values)             # dataclass's (PPO's env.name is CartPole-v1)
        doc = inspect.cleandoc(section.__doc__ or "")
        lines += [f".. rubric:: [{top.name}]", "", f"*{section.__module__}.{section.__name__}*",
                  ""]
        if doc:
            lines += [*doc.splitlines(), ""]
        lines += [".. list-table::", "   :header-rows: 1", "   :widths: 30 40 15 15", "",
                  "   * - key", "     - default", "     - type", "     - sweepable"]
        for field in dataclasses.fields(section):
            if field.name.startswith("_"):
                continue
            kind_of = str(field.type).replace("|", "or")
            default = _toml(getattr(values, field.name))
            lines += [f"   * - ``{top.name}.{field.name}``", f"     - ``{default}``",
                      f"     - ``{kind_of}``",
                      f"     - {'yes' if field.metadata.get('sweepable') else ''}"]
        lines.append("")
    return lines


class SettingsDirective(SphinxDirective):
    """``.. jaxcurr-settings:: KIND``: the settings tables of one experiment kind."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(StringList(settings_rst(self.arguments[0]), "<jaxcurr-settings>"),
                                self.content_offset, container)
        return container.children


def skip_tuple_fields(app, what, name, obj, skip, options):
    """NamedTuple fields are described in their class's ``Attributes:`` section; their own
    entries would only say "Alias for field number N"."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", write_api_pages)
    app.connect("autodoc-skip-member", skip_tuple_fields)
    app.add_directive("jaxcurr-settings", SettingsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
