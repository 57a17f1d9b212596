"""``ctm report``: the executive review as one HTML page, checked as a person would see it.

The page is opened in headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it),
which must have decoded every figure; a screenshot is kept in ``out/report_screenshot.png``
for the record.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from notebooks.report import POLICY, notebook_path
from scenarios.load import scenario_files as bundled_scenarios
from tests.helpers import ctm, posterior_file

SMALL = ["--draws", "3", "--customers", "300", "--months", "13", "--seed", "1", "--serial"]
PLAN = "All examples together"
SCREENSHOT = Path(__file__).parents[2] / "out" / "report_screenshot.png"
CHECK = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const drawn = images.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const mark = document.createElement("pre");
  mark.id = "ctm-check";
  mark.textContent = "images " + images.length + " drawn " + drawn.length;
  document.body.appendChild(mark);
});
</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory, demo_world) -> tuple[Path, Path]:
    """The report on small settings, its study simulated by the agent engine, and ``ctm
    compare``'s tables for the same study by the compiled engine: the page's recommendation
    must be the one the compiled tables give (test_recommendation_names_the_best_scenario)."""
    folder = tmp_path_factory.mktemp("report")
    posterior = posterior_file(folder / "posterior.nc", demo_world)
    html = folder / "report.html"
    made = ctm(
        "report", "--posterior", str(posterior), "--plan", PLAN, *SMALL, "--engine", "agents",
        "--out", str(html),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    compared = ctm(
        "compare",
        "demo",
        *map(str, bundled_scenarios(None)),
        "--posterior",
        str(posterior),
        "--plan",
        PLAN,
        *SMALL,
        "--out",
        str(folder / "compare"),
    )
    assert compared.returncode == 0, compared.stderr
    return html, folder / "compare"


@pytest.mark.slow
def test_report_has_no_code(report):
    html = report[0].read_text()
    code = [
        line.strip()
        for cell in json.loads(notebook_path("executive_review").read_text())["cells"]
        if cell["cell_type"] == "code"
        for line in cell["source"]
    ]
    distinctive = [line for line in code if len(line) > 25 and not line.startswith("#")]
    assert distinctive, "the notebook should have code to hide"
    shown = [line for line in distinctive if line in html]
    assert not shown, f"code in the report: {shown[:3]}"
    assert 'class="jp-CodeMirrorEditor' not in html and 'class="highlight' not in html


@pytest.mark.slow
def test_the_page_loads_nothing_from_the_network(report):
    html = report[0].read_text()
    assert not re.findall(r'(?:src|href)="(?:https?:)?//[^"]+"', html)
    assert "<title>Executive review</title>" in html


@pytest.mark.slow
def test_the_page_opens_with_the_decision(report):
    """The first words after the title are the recommendation (or that none is made), then
    its chart, before the headline and the detailed tables."""
    html = report[0].read_text()
    body = re.sub(r"<style.*?</style>", "", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))
    decision = min(
        i for i in (text.find("Recommendation:"), text.find("No plan is more likely")) if i >= 0
    )
    assert decision < text.find("How value is counted") < text.find("Where the numbers come from")
    assert text.find("Where the numbers come from") < text.find("Headline: the business")
    first_image = html.find("<img")
    assert html.find("Recommendation:") < first_image < html.find("How value is counted")


@pytest.mark.slow
def test_every_figure_is_a_non_empty_png(report):
    sources = re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', report[0].read_text())
    assert len(sources) >= 4  # retention, forest, economics and at least one more
    for source in sources:
        png = base64.b64decode(source)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


@pytest.mark.slow
def test_recommendation_names_the_best_scenario(report):
    """By the rule the page states: the highest expected net gain among scenarios more likely
    than not to gain more than they cost (else the closest is named)."""
    money = pd.read_csv(report[1] / "economics.csv")
    money["net"] = money["value_gain"] - money["cost"]
    likely = money[money["p_gain_exceeds_cost"] >= 0.5]
    html = report[0].read_text()
    if len(likely):
        best = likely.sort_values("net", ascending=False, kind="stable")["scenario"].iloc[0]
        assert f"<strong>Recommendation:</strong> <strong>{best}</strong>" in html
    else:
        closest = money.sort_values(["p_gain_exceeds_cost", "net"], ascending=False, kind="stable")[
            "scenario"
        ].iloc[0]
        assert f"The closest is <strong>{closest}</strong>" in html


@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
@pytest.mark.slow
def test_chromium_draws_every_figure(report, tmp_path):
    page = tmp_path / "checked.html"
    own = report[0].read_text()
    assert f'content="{POLICY}"' in own  # the page runs no script: this copy's check may
    page.write_text(
        own.replace(f'content="{POLICY}"', 'content=""').replace("</body>", CHECK + "</body>")
    )
    browser = [
        shutil.which("chromium") or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run(
        [*browser, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    found = re.search(r"images (\d+) drawn (\d+)", dom)
    assert found, "Chromium did not run the page's check"
    images, drawn = map(int, found.groups())
    assert images >= 4 and drawn == images
    SCREENSHOT.parent.mkdir(exist_ok=True)
    subprocess.run(
        [*browser, "--window-size=1280,6000", f"--screenshot={SCREENSHOT}", report[0].as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--scenarios", "{tmp}"], "{tmp}: a folder without scenario files, expected *.yaml files"),
        (["--scenarios", "{tmp}/nope.yaml"], "{tmp}/nope.yaml: no such file"),
        (["--posterior", "{tmp}/nope.nc"], "{tmp}/nope.nc: no such file"),
    ],
)
def test_bad_input_is_one_line_with_exit_2_and_no_page(tmp_path, args, line):
    out = tmp_path / "report.html"
    done = ctm("report", *[a.format(tmp=tmp_path) for a in args], "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip() == line.format(tmp=tmp_path)
    assert not out.exists()


def test_an_output_that_cannot_be_written_is_refused_before_the_run(tmp_path, demo_world):
    """A folder as the page, a file as its folder, more draws than the posterior holds: one
    line and exit code 2, before the notebook runs, and no page."""
    from tests.helpers import posterior_file

    (tmp_path / "taken").write_text("a file")
    cases = [
        (
            ["--out", str(tmp_path)],
            f"{tmp_path}: is a folder, expected the name of a file to write",
        ),
        (
            ["--out", str(tmp_path / "taken" / "report.html")],
            f"{tmp_path / 'taken' / 'report.html'}: its folder is a file, expected a folder",
        ),
    ]
    for args, line in cases:
        done = ctm("report", *args)
        assert done.returncode == 2 and done.stderr.strip() == line, done.stderr
    posterior = posterior_file(tmp_path / "post.nc", demo_world, draws=4)
    out = tmp_path / "new" / "report.html"
    done = ctm("report", "--posterior", str(posterior), "--draws", "9", "--out", str(out))
    assert done.returncode == 2 and "asked for 9 draws, the posterior holds 8" in done.stderr
    assert not out.exists()


HOSTILE = "<script>document.title='pwned'</script> [x](javascript:alert(1))"


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it)",
)
def test_hostile_names_run_no_script_in_the_report(tmp_path):
    """A scenario named with a script and a javascript: link, through ctm report, opened in
    headless Chromium: the title is the report's own and no javascript: link exists."""
    text = (Path(__file__).parents[2] / "scenarios" / "examples" / "fix_invoice.yaml").read_text()
    scenario = tmp_path / "hostile.yaml"
    scenario.write_text(text.replace("name: Clearer invoice", f"name: {json.dumps(HOSTILE)}"))
    html = tmp_path / "report.html"
    made = ctm("report", "--scenarios", str(scenario), *SMALL, "--out", str(html))
    assert made.returncode == 0, made.stderr
    browser = [shutil.which("chromium") or "chromium", "--headless", "--no-sandbox",
               "--disable-gpu", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run(
        [*browser, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "<title>Executive review</title>" in dom and "pwned" not in dom.split("</title>")[0]
    assert not re.search(r'href="\s*javascript:', dom, re.IGNORECASE)
    assert "<script>document.title" not in html.read_text()  # escaped, not markup
