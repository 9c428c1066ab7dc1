"""The report e-mail's HTML in a real browser: Debian's headless Chromium (``make test`` installs it).

A first sync of 200 people must show what needs HR above the fold of a 1200×900 window, and the first-run
review before the long list of created people. One Chromium start: the page measures itself and the test
reads the numbers back from the DOM Chromium dumps.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess

from hrsync.report.mail import build_message
from tests.helpers import person, sync_memory

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1200, 900)
#: Appended to the report's HTML: where the sections are, written into the DOM for --dump-dom.
MEASURE = """<script>
const box = id => document.getElementById(id).getBoundingClientRect();
document.body.setAttribute("data-measured", JSON.stringify({
  width: innerWidth, height: innerHeight, attention_top: box("attention-heading").top,
  attention_bottom: box("attention").bottom, review: box("review").top, changes: box("changes").top}));
</script>"""


def test_a_first_sync_of_200_people_shows_attention_above_the_fold_and_the_review_before_the_created(
        memory_config, memory_world, tmp_path):
    assert os.access(CHROMIUM, os.X_OK), "chromium is missing: `make test` installs it (apt-get install chromium)"
    memory_world.people = [person(i) for i in range(200)]
    for i in (10, 11):
        memory_world.people[i]["email"] = None  # two people HR must fix
    for i in range(190, 200):
        memory_world.people[i]["status"] = "inactive"  # leavers: not created, named for review
    for i in (1, 2, 3):  # already in the app: linked
        memory_world.users[f"before{i}"] = {**{k: v for k, v in person(i).items() if k != "id"}, "active": True}
    for i in (1, 2):  # in the app, in nobody's record
        memory_world.users[f"x{i}"] = {"email": f"old{i}@example.com", "first_name": "Old", "last_name": str(i),
                                       "active": True}
    report = sync_memory(memory_config()).report
    assert report.counts["created"] == 185 and len(report.attention) == 2
    page = tmp_path / "report.html"
    body = build_message(report, "hrsync@example.com", ["hr@example.com"]).get_body(("html",)).get_content()
    page.write_text(body.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dumped = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--window-size={WINDOW[0]},{WINDOW[1]}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'data-measured="([^"]*)"', dumped.stdout)
    assert found, f"Chromium rendered nothing measurable: {dumped.stderr[-2000:]}"
    measured = json.loads(html.unescape(found.group(1)))
    # The fold is the viewport: the window less the browser's own frame (Chromium keeps one even headless).
    fold = measured["height"]
    assert measured["width"] == WINDOW[0] and 600 < fold <= WINDOW[1], measured
    assert 0 < measured["attention_top"] < measured["attention_bottom"] <= fold, measured
    assert measured["attention_bottom"] < measured["review"] < measured["changes"], measured
