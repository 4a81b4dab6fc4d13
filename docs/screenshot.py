"""Build the site if needed and screenshot the API page of ``jaxcurr.transforms`` with headless
Chromium (Debian: ``apt-get install chromium``).

    python docs/screenshot.py [--out docs/_build/transforms_api.png] [--rebuild]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SITE = DOCS / "_build" / "html"
PAGE = SITE / "api" / "generated" / "jaxcurr.transforms.html"


def build() -> None:
    subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                    str(DOCS), str(SITE)], check=True)


def screenshot(page: Path, out: Path, size: str = "1280,1600") -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("screenshot: no chromium on PATH; allowed: install it (apt-get install chromium)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={profile}", "--hide-scrollbars",
             f"--screenshot={out}", f"--window-size={size}", page.as_uri()],
            check=True, capture_output=True, timeout=120)
    if not out.is_file():
        sys.exit(f"screenshot: chromium wrote no {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "_build" / "transforms_api.png")
    parser.add_argument("--rebuild", action="store_true", help="build even if the page exists")
    args = parser.parse_args()
    if args.rebuild or not PAGE.is_file():
        build()
    screenshot(PAGE, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
