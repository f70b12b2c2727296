"""The results pages' generated blocks: rewritten from the named report, left alone when it is missing."""
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "update_results_docs.py"
PAGE = """# Ladder

Prose written by hand.

<!-- BEGIN GENERATED reports/ladder_results.md -->
| old | table |
<!-- END GENERATED -->

More prose.

<!-- BEGIN GENERATED reports/realism.txt -->
old realism
<!-- END GENERATED -->
"""


def _run(tmp_path, *flags):
    return subprocess.run([sys.executable, str(TOOL), "--docs", str(tmp_path / "docs"), "--root", str(tmp_path), *flags],
                          capture_output=True, text=True)


def _setup(tmp_path):
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / "reports").mkdir()
    page = tmp_path / "docs" / "results" / "ladder.md"
    page.write_text(PAGE)
    return page


def test_a_block_takes_its_report_and_the_prose_stays(tmp_path):
    page = _setup(tmp_path)
    (tmp_path / "reports" / "ladder_results.md").write_text("| new | table |\n|---|---|\n")
    (tmp_path / "reports" / "realism.txt").write_text("dlib finds 80 %\n")
    assert _run(tmp_path).returncode == 0
    text = page.read_text()
    assert "| new | table |\n|---|---|\n<!-- END GENERATED -->" in text and "| old |" not in text
    assert "```text\ndlib finds 80 %\n```" in text and "old realism" not in text
    assert "Prose written by hand." in text and "More prose." in text
    assert _run(tmp_path).returncode == 0 and page.read_text() == text  # a second run changes nothing


def test_a_missing_report_leaves_its_block_and_check_fails(tmp_path):
    page = _setup(tmp_path)
    (tmp_path / "reports" / "ladder_results.md").write_text("| new |\n")
    done = _run(tmp_path)
    assert done.returncode == 0 and "no report for results/ladder.md: reports/realism.txt" in done.stderr
    assert "old realism" in page.read_text() and "| new |" in page.read_text()
    checked = _run(tmp_path, "--check")
    assert checked.returncode == 1 and "reports/realism.txt" in checked.stderr
