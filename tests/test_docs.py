"""The documentation site: the Sphinx build with warnings as errors, an API page for every
public module, the settings tables against the kinds' dataclasses, and the guides' code.

The build runs in a subprocess into a fresh folder (its doctrees too), so every page is read
and written again; the guides' Python blocks run in this process through Sybil, one
namespace per page, in order.
"""

import dataclasses
import html
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sybil import Sybil
from sybil.parsers.myst import PythonCodeBlockParser, SkipParser

DOCS = Path(__file__).resolve().parents[1] / "docs"
PACKAGES = ("transforms", "teachers", "signals", "envs", "students", "curricula", "kinds", "run")
KINDS = ("classifier_curriculum", "discrete_sac", "ppo", "tabular_pg", "initial_state_curriculum")
PAGES = sorted([*DOCS.glob("*.md"), *DOCS.glob("guides/*.md")])


def _build_site(out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "html"


def _public_modules(package: str) -> list[str]:
    root = importlib.import_module(f"jaxcurr.{package}")
    found = [root.__name__]
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found.append(info.name)
    return found


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, tuple | list) else value


def _text(page: Path) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.read_text())).split())


def _check_api_pages(site: Path) -> None:
    """A page for every public module, with an entry for each class and function the module
    exports (its ``__all__``, else the documented ones it defines)."""
    for package in PACKAGES:
        for name in _public_modules(package):
            page = site / "api" / "generated" / f"{name}.html"
            assert page.is_file(), name
            module = importlib.import_module(name)
            names = getattr(module, "__all__", None) or [
                n for n, v in vars(module).items()
                if getattr(v, "__module__", None) == name and (v.__doc__ or "").strip()]
            exported = [n for n in names if not n.startswith("_") and (
                isinstance(getattr(module, n), type) or inspect.isfunction(getattr(module, n)))]
            ids = set(re.findall(r'id="([^"]+)"', page.read_text()))
            missing = [n for n in exported if f"{name}.{n}" not in ids]
            assert not missing, f"{name}: not documented: {missing}"
    import jaxcurr.transforms as transforms

    text = _text(site / "api" / "generated" / "jaxcurr.transforms.html")
    first_line = transforms.grokfast_ema.__doc__.strip().splitlines()[0].replace("``", "")
    assert " ".join(first_line.split()) in text


def _check_settings_tables(site: Path) -> None:
    """Every field of every section of each kind's default config is in the kind's table
    with its value, read here from the config itself."""
    from jaxcurr.kinds import get_kind

    text = _text(site / "guides" / "kind_settings.html")
    for kind_name in KINDS:
        section_text = text.split(f"{kind_name} #", 1)[1]
        config = get_kind(kind_name).from_dict({})
        for top in dataclasses.fields(config):
            if top.name in ("name", "description", "sweep"):
                continue
            section = getattr(config, top.name)
            for field in dataclasses.fields(section):
                key = f"{top.name}.{field.name}"
                shown = json.dumps(_lists(getattr(section, field.name)))
                assert f"{key} {shown}" in section_text, (kind_name, key, shown)


def test_site_builds_with_every_api_page_and_settings_table(tmp_path):
    """One build (one worker): ``sphinx-build -W --keep-going`` from scratch, then its pages."""
    site = _build_site(tmp_path)
    _check_api_pages(site)
    _check_settings_tables(site)


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_guide_code_runs(page):
    document = Sybil(parsers=[PythonCodeBlockParser(), SkipParser()]).parse(page)
    for example in document:
        example.evaluate()
