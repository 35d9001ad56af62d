"""The overview shows the newest 100 jobs of each kind and pages back through older ones with the
listing's own page token; the live fragment keeps the page it belongs to."""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from pathlib import Path

from helpers import add_finished_jobs, serving
from sqlalchemy import delete

from hpjobs.store import TrainingJob, get_store

JOBS = 230


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _training_names(page: str) -> list[str]:
    table = page.split('id="training-jobs"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/ui/training-jobs/([^"]+)"', table)


def _link(page: str, text: str) -> str | None:
    found = re.search(r'<a href="([^"]+)">' + re.escape(text) + "</a>", page)
    return None if found is None else html.unescape(found.group(1))


def test_the_overview_pages_back_through_older_jobs(tmp_path: Path) -> None:
    add_finished_jobs([f"paged-{index:03d}" for index in range(JOBS)])
    newest_first = [f"paged-{index:03d}" for index in reversed(range(JOBS))]
    with serving(tmp_path) as url:
        status, first = _get(url + "/")
        assert status == 200
        assert _training_names(first) == newest_first[:100]
        assert 'Training jobs <span class="count">newest 100</span>' in first
        assert _link(first, "&larr; Newest training jobs") is None
        older = _link(first, "Older training jobs &rarr;")
        assert older is not None and older.startswith("/?training=")
        # the tables without older jobs have no links
        assert 'id="tuning-pages"' not in first and 'id="customization-pages"' not in first

        status, second = _get(url + older)
        assert status == 200
        assert _training_names(second) == newest_first[100:200]
        assert 'Training jobs <span class="count">100 older</span>' in second
        assert _link(second, "&larr; Newest training jobs") == "/"
        # the live fragment the page fetches again is of the same page
        live = re.search(r'data-live="(/ui/jobs[^"]*)"', second)
        assert live is not None and html.unescape(live.group(1)) == "/ui/jobs" + older[1:]
        status, fragment = _get(url + html.unescape(live.group(1)))
        assert status == 200 and _training_names(fragment) == newest_first[100:200]

        oldest = _link(second, "Older training jobs &rarr;")
        assert oldest is not None
        status, third = _get(url + oldest)
        assert _training_names(third) == newest_first[200:]
        assert _link(third, "Older training jobs &rarr;") is None
        assert _link(third, "&larr; Newest training jobs") == "/"

        # once the jobs of an older page are deleted, it says there are no older jobs, not that
        # there are none yet
        with get_store().write() as session:
            session.execute(delete(TrainingJob).where(TrainingJob.name < "paged-030"))
        status, emptied = _get(url + oldest)
        assert status == 200
        assert 'id="training-jobs"' not in emptied
        assert "No older training jobs." in emptied and "No training jobs yet." not in emptied
        assert _link(emptied, "&larr; Newest training jobs") == "/"

        # a page token the listing does not take: the AWS error, as a bad request
        status, bad = _get(url + "/?training=not-a-token")
        assert status == 400
        assert "ValidationException" in bad
