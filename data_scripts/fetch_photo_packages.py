"""Fetch every package that holds a texture-bank or proxy photo into data/photo_packages (setup time, once).

    .venv-realism/bin/python data_scripts/fetch_photo_packages.py

Called by ``make realism-peers``, so that ``build_texture_bank.py`` and ``benchmarks/realism.py`` later find the
photos' packages on disk and nothing downloads while they run.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "data_scripts"))
from build_texture_bank import fetch  # noqa: E402

LISTS = (ROOT / "data_scripts" / "texture_photos.json", ROOT / "benchmarks" / "realism" / "proxy_photos.json")

if __name__ == "__main__":
    for listing in LISTS:
        for package in json.loads(listing.read_text())["packages"]:
            print(f"{package['name']}=={package['version']}: {fetch(package).name}")
