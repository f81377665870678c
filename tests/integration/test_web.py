"""The dashboard's pages against a real server: rendering, escaping of hostile text, login and CSRF."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from perfsheriff.alerts import Bisection, BisectionProbe, BisectionState
from perfsheriff.roles import Role
from perfsheriff.service.access import tokens
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.store import bisections as bisection_store
from perfsheriff.store import schema as t
from support.benchrepo import BenchProject
from support.dashdata import EVIL_BENCHMARK, EVIL_SUBJECT, Populated, populate, run_body
from support.liveserver import LiveServer, start_server


@pytest.fixture
def data(server: LiveServer, project: BenchProject, engine: Engine) -> Populated:
    return populate(server, project, engine)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def summary_id(http: httpx.Client) -> int:
    found = re.search(r'href="/summaries/(\d+)"', http.get("/summaries").text)
    assert found
    return int(found.group(1))


def series_ids(http: httpx.Client) -> dict[str, str]:
    return {s["benchmark"]: s["id"] for s in http.get("/api/v1/series").json()["series"]}


def assert_inert(html: str) -> None:
    """No markup from the data made it into the page as markup."""
    assert "<script>window.pwned" not in html
    assert "<img src=x" not in html
    assert "onerror=" not in html.replace("onerror=&#34;", "")


def test_every_page_renders_and_hostile_text_is_inert(server: LiveServer, data: Populated) -> None:
    with server.client() as http:
        ids = series_ids(http)
        work, evil = ids["work"], ids[EVIL_BENCHMARK]
        sid = summary_id(http)
        pages = {
            "/": "Latest alerts",
            f"/series/{work}": 'id="chart"',
            f"/graph?series={work},{evil}": "uPlot.iife.min.js",
            f"/revision/{data.evil_commit}": "Alerts concerning this commit",
            "/summaries?queue=code": f"#{sid}",
            "/summaries?queue=&state=untriaged&branch=&benchmark=&machine=test-class": f"#{sid}",
            f"/summaries/{sid}": "Journal",
            f"/compare?base={data.tips[0]}&head={data.evil_commit}": "Suite summary",
        }
        for path, expected in pages.items():
            answer = http.get(path)
            assert answer.status_code == 200, (path, answer.text[:500])
            assert expected in answer.text, path
            assert_inert(answer.text)
            assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert f"#{sid}" not in http.get("/summaries?machine=another-class").text
        revision = http.get(f"/revision/{data.evil_commit}").text
        assert "&lt;script&gt;window.pwned = &#34;subject&#34;&lt;/script&gt;" in revision
        assert "&lt;b&gt;markup&lt;/b&gt; &amp; more." in revision
        compare = http.get(f"/compare?base={data.tips[0]}&head={data.evil_commit}").text
        everything = http.get(f"/compare?base={data.tips[0]}&head={data.evil_commit}&all=1").text
        # The flat benchmark has no change: hidden until asked for, and its name is inert either way.
        assert "1 of 2 shown: the 1 with no change are hidden" in compare
        assert "window.pwned" not in compare.split('id="compare-table"')[1]
        assert "&lt;script&gt;window.pwned = &#34;benchmark&#34;&lt;/script&gt;parse" in everything
        assert "compare-hidden" not in everything
        graph = http.get(f"/graph?series={work},{evil}").text
        assert f"data-series='[&#34;{work}&#34;, &#34;{evil}&#34;]'" in graph or f'["{work}", "{evil}"]' in graph
        hostile = http.get("/graph", params={"series": "'><script>alert(1)</script>"}).text
        assert "<script>alert(1)" not in hostile
        assert http.get("/static/vendor/uplot/uPlot.iife.min.js").status_code == 200


def test_the_compare_page_summarises_each_tag(server: LiveServer, data: Populated, engine: Engine) -> None:
    with engine.begin() as conn:  # as tracking the project stores its [[benchmarks]] tags
        conn.execute(t.benchmarks.update().where(t.benchmarks.c.name == "work").values(tags=["real-world"]))
        conn.execute(t.benchmarks.update().where(t.benchmarks.c.name != "work").values(tags=["micro", "real-world"]))
    with server.client() as http:
        page = http.get(f"/compare?base={data.tips[0]}&head={data.evil_commit}").text
        answer = http.get("/api/v1/compare", params={"base": data.tips[0], "head": data.evil_commit}).json()
    assert [(s["tag"], s["series"]) for s in answer["tag_suites"]] == [("micro", 1), ("real-world", 2)]
    table = page.split('<table id="tag-suites">')[1].split("</table>")[0]
    rows = re.findall(r"<tr class=\"(\w+)\"><td>([^<]*)</td>.*?<td>(\d+)</td><td>(\w+)</td>", table)
    assert [(tag, int(n), verdict) for _, tag, n, verdict in rows] == [
        (s["tag"], s["series"], s["verdict"]) for s in answer["tag_suites"]
    ]
    real_world = answer["tag_suites"][1]
    assert f"{real_world['ratio']:.4f}" in table
    assert f"[{real_world['ci_low']:.4f}, {real_world['ci_high']:.4f}]" in table


def test_the_graph_data_carries_hover_facts_and_alerts(server: LiveServer, data: Populated) -> None:
    with server.client() as http:
        work = series_ids(http)["work"]
        body = http.get(f"/series/{work}/data").json()
        points = body["points"]
        assert points["revision"][-1] == data.evil_commit
        assert points["subject"][-1] == EVIL_SUBJECT
        assert points["author"][-1]
        (alert,) = body["alerts"]
        assert alert["id"] == data.alert_id
        assert alert["last_good_position"] < alert["first_bad_position"]
        zoomed = http.get(f"/series/{work}/data", params={"start": 5, "end": 8, "max_points": 4}).json()
        assert all(5 <= p <= 8 for p in zoomed["points"]["position"])
        assert zoomed["total_points"] == len([p for p in points["position"] if 5 <= p <= 8])
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:
        more = run_body(data.evil_commit, 140.0, 99)
        assert http.post("/api/v1/runs", json=more).status_code == 201
    with server.client() as http:
        again = http.get(f"/series/{work}/data").json()["points"]  # a new run shows at once, whatever was read before
        assert again["n"][-1] == points["n"][-1] + 5
        assert again["max"][-1] > points["max"][-1]

    with server.client() as http:
        assert http.get("/series/ffffffffffffffff/data").status_code == 404
        assert http.get("/series/ffffffffffff").status_code == 200  # the page loads, its script reports the 404
        assert http.get("/revision/0000000").status_code == 404
        assert http.get("/summaries/999999").status_code == 404


def test_the_graph_marks_bisection_probes_and_machine_changes(
    server: LiveServer, data: Populated, project: BenchProject, engine: Engine
) -> None:
    assert project.culprit is not None
    probes = (
        BisectionProbe(project.side[0], "good", 4, "like the good end"),
        BisectionProbe(project.culprit, "bad", 6, "like the bad end"),
    )
    record = Bisection(
        data.alert_id,
        project.last_good,
        project.rollup,
        BisectionState.CULPRIT,
        culprits=(project.culprit,),
        confidence=0.98,
        probes=probes,
    )
    with engine.begin() as conn:
        bisection_store.save(conn, record, now=datetime.now(UTC))
    # A machine that says what it is (earlier uploads did not: unknown is no change), the same machine on
    # new hardware, then a second machine of the class: two boundaries, each where it began.
    said = project.repo.commit("measured on a known CPU", files={"later.txt": "0\n"})
    newer = project.repo.commit("after the upgrade", files={"later.txt": "1\n"})
    newest = project.repo.commit("on the new machine", files={"later.txt": "2\n"})
    old = {"cpu_model": "Old CPU 1000", "cpu_count": "4", "arch": "x86_64", "os": "Linux"}
    upgraded = old | {"cpu_model": "Faster CPU 9000", "cpu_count": "16"}
    with server.client(server.token("agent", machine="box", machine_class="test-class")) as http:
        for commit, env in ((said, old), (newer, upgraded)):
            answer = http.post("/api/v1/runs", json=run_body(commit, 140.0, 7) | {"environment": env})
            assert answer.status_code == 201, answer.text
    with server.client(server.token("agent", machine="box-2", machine_class="test-class")) as http:
        answer = http.post("/api/v1/runs", json=run_body(newest, 140.0, 8) | {"machine": "box-2"})
        assert answer.status_code == 201, answer.text
    with server.client() as http:
        body = http.get(f"/series/{series_ids(http)['work']}/data").json()
    positions = dict(zip(body["points"]["revision"], body["points"]["position"], strict=True))
    (alert,) = body["alerts"]
    assert [(p["commit"], p["verdict"], p["n_samples"]) for p in alert["probes"]] == [
        (project.side[0], "good", 4),
        (project.culprit, "bad", 6),
    ]
    # Roll-up members have branch positions of their own, just before the roll-up's tip.
    assert alert["last_good_position"] < alert["probes"][0]["position"] < alert["probes"][1]["position"]
    assert alert["probes"][1]["position"] <= alert["first_bad_position"] == positions[project.rollup]
    assert alert["culprits"] == [{"commit": project.culprit, "position": alert["probes"][1]["position"]}]
    upgrade, new_machine = body["machine_changes"]
    assert (upgrade["kind"], upgrade["machine"], upgrade["position"]) == ("upgrade", "box", positions[newer])
    assert upgrade["changed"] == {
        "cpu_model": {"from": "Old CPU 1000", "to": "Faster CPU 9000"},
        "cpu_count": {"from": "4", "to": "16"},
    }
    assert (new_machine["kind"], new_machine["machine"], new_machine["position"]) == (
        "new machine",
        "box-2",
        positions[newest],
    )


def test_the_overview_shows_drift_since_the_last_release(
    server: LiveServer, data: Populated, project: BenchProject, engine: Engine
) -> None:
    project.repo.tag("v1.0<i>", project.tips[0])  # a tag's name may hold markup: it is shown as text
    later = project.repo.commit("after the release", files={"later.txt": "1\n"})
    with server.client(server.token("agent", machine="box", machine_class="test-class")) as http:
        answer = http.post("/api/v1/runs", json=run_body(later, 140.0, 3))  # importing it reads the tags
        assert answer.status_code == 201, answer.text
    detect_stored(engine, DetectionPolicy(), now=datetime.now(UTC))
    with server.client() as http:
        html = http.get("/").text
    table = html[html.index('id="release-drift"') : html.index("Latest alerts")]
    assert "v1.0&lt;i&gt;" in table
    assert "<i>" not in table
    assert "test-class" in table
    assert "1 regression" in table
    found = re.search(r'href="/series/[0-9a-f]{16}">work</a> time\s+\+(\d+\.\d)%', table)
    assert found, table
    assert 25 < float(found.group(1)) < 45  # the roll-up's +30 %, and the newest run's 140


def login(http: httpx.Client, token: str) -> httpx.Response:
    form = http.get("/login")
    assert "psf_csrf" in http.cookies
    return http.post("/login", data={"token": token, "csrf": csrf_of(form.text), "next": "/summaries"})


def test_login_cookie_and_csrf_protect_triage(server: LiveServer, data: Populated) -> None:
    sheriff = server.token("sheriff")
    with server.client() as http:
        sid = summary_id(http)
        assert "Change state" not in http.get(f"/summaries/{sid}").text  # read-only before login
        assert http.post("/login", data={"token": sheriff}).status_code == 403  # no CSRF value
        answer = login(http, sheriff)
        assert answer.status_code == 303
        cookie = answer.headers["set-cookie"].lower()
        assert "psf_session=" in cookie
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        page = http.get(f"/summaries/{sid}").text
        assert "Change state" in page
        csrf = csrf_of(page)

        hostile = '<script>window.pwned="note"</script> looked at it'
        assert http.post(f"/summaries/{sid}/note", data={"text": hostile}).status_code == 403
        forged = http.post(f"/summaries/{sid}/note", data={"text": hostile, "csrf": "0" * 64})
        assert forged.status_code == 403
        assert http.post(f"/summaries/{sid}/note", data={"text": hostile, "csrf": csrf}).status_code == 303
        state = {"to_state": "investigating", "from_state": "untriaged", "text": "on it", "csrf": csrf}
        assert http.post(f"/summaries/{sid}/state", data=state).status_code == 303
        stale = http.post(f"/summaries/{sid}/state", data=state)
        assert stale.status_code == 409  # the summary left 'untriaged' already
        owner = {"owner": "ada", "bug_url": "https://bugs.example/1", "csrf": csrf}
        assert http.post(f"/summaries/{sid}/assign", data=owner).status_code == 303
        page = http.get(f"/summaries/{sid}").text
        assert_inert(page)
        assert "&lt;script&gt;window.pwned=&#34;note&#34;&lt;/script&gt; looked at it" in page
        assert "untriaged → investigating" in page
        assert "owner set to ada" in page
        assert '<span class="state" id="summary-state">investigating</span>' in page
        api = http.get(f"/api/v1/summaries/{sid}").json()
        assert api["state"] == "investigating"
        assert api["owner"] == "ada"
        assert http.post("/logout", data={"csrf": csrf}).status_code == 303


def test_a_reader_cannot_triage(server: LiveServer, data: Populated) -> None:
    reader = server.token("read")
    with server.client() as http:
        sid = summary_id(http)
        assert login(http, reader).status_code == 303
        page = http.get(f"/summaries/{sid}").text
        assert "Change state" not in page
        answer = http.post(f"/summaries/{sid}/note", data={"text": "hi", "csrf": csrf_of(page)})
        assert answer.status_code == 403
        bad = http.post("/login", data={"token": "psf_forged", "csrf": csrf_of(page)})
        assert bad.status_code == 401


def test_private_server_sends_visitors_to_login(engine_url: str, tmp_path: Path, project: BenchProject) -> None:
    live = start_server(engine_url, tmp_path, config=project.config, env={"PERFSHERIFF_PUBLIC_READ": "false"})
    try:
        with live.client() as http:
            answer = http.get("/summaries")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/login?next=/summaries"
            assert http.get("/series/abcd/data").status_code == 401
            assert login(http, live.token("read")).status_code == 303
            assert http.get("/summaries").status_code == 200
    finally:
        live.stop()


def test_dashboard_forms_refuse_what_the_api_refuses(server: LiveServer, data: Populated) -> None:
    sheriff = server.token("sheriff")
    with server.client() as http:
        sid = summary_id(http)
        assert login(http, sheriff).status_code == 303
        csrf = csrf_of(http.get(f"/summaries/{sid}").text)
        long_note = http.post(f"/summaries/{sid}/note", data={"text": "n" * 10_001, "csrf": csrf})
        assert long_note.status_code == 422
        assert "at most 10,000 characters" in long_note.text
        nul = http.post(f"/summaries/{sid}/note", data={"text": "a\x00b", "csrf": csrf})
        assert nul.status_code == 422
        owner = http.post(f"/summaries/{sid}/assign", data={"owner": "o" * 201, "csrf": csrf})
        assert owner.status_code == 422
        state = {"to_state": "investigating", "text": "t" * 10_001, "csrf": csrf}
        assert http.post(f"/summaries/{sid}/state", data=state).status_code == 422
        huge = http.post(f"/summaries/{sid}/note", data={"text": "n" * 1_000_000, "csrf": csrf})
        assert huge.status_code == 413
        journal = http.get(f"/api/v1/summaries/{sid}").json()["notes"]
        assert all(len(note["text"]) <= 10_000 and "\x00" not in note["text"] for note in journal)
        assert http.get(f"/api/v1/summaries/{sid}").json()["state"] == "untriaged"


def test_a_login_is_a_server_side_session_that_logging_out_revokes(server: LiveServer, data: Populated) -> None:
    sheriff = server.token("sheriff")
    with server.client() as http:
        sid = summary_id(http)
        answer = login(http, sheriff)
        assert answer.status_code == 303
        cookie = http.cookies["psf_session"]
        assert sheriff not in answer.headers["set-cookie"]  # the token itself never becomes the cookie
        assert not cookie.startswith("psf_")
        page = http.get(f"/summaries/{sid}").text
        assert "Change state" in page
        assert http.post("/logout", data={"csrf": csrf_of(page)}).status_code == 303
    with server.client() as stolen:  # a copy of the cookie, taken before the logout
        stolen.cookies.set("psf_session", cookie)
        page = stolen.get(f"/summaries/{sid}").text
        assert "Change state" not in page
        csrf = hashlib.sha256(f"perfsheriff-csrf:{cookie}".encode()).hexdigest()  # what the cookie's holder can compute
        answer = stolen.post(f"/summaries/{sid}/note", data={"text": "still here?", "csrf": csrf})
        assert answer.status_code == 403
    with server.client(sheriff) as api:  # the token itself still works for the API
        assert api.get("/api/v1/projects").status_code == 200


def test_revoking_a_token_ends_its_sessions(server: LiveServer, data: Populated) -> None:
    admin = server.token("admin")
    with server.client() as http:
        sid = summary_id(http)
        assert login(http, admin).status_code == 303
        assert "Change state" in http.get(f"/summaries/{sid}").text
        with server.client(admin) as api:
            (me,) = [t for t in api.get("/api/v1/tokens").json()["tokens"] if t["role"] == "admin"]
            assert api.delete(f"/api/v1/tokens/{me['id']}").status_code == 200
        assert "Change state" not in http.get(f"/summaries/{sid}").text


def test_cookies_are_secure_behind_a_proxy_that_says_https(server: LiveServer, data: Populated) -> None:
    sheriff = server.token("sheriff")
    with server.client() as http:
        https = {"X-Forwarded-Proto": "https"}
        form = http.get("/login", headers=https)
        assert "secure" in form.headers["set-cookie"].lower()
        # a browser sends a Secure cookie back over HTTPS; this client talks HTTP to the proxy's side
        back = https | {"Cookie": f"psf_csrf={form.cookies['psf_csrf']}"}
        answer = http.post("/login", data={"token": sheriff, "csrf": csrf_of(form.text)}, headers=back)
        assert answer.status_code == 303
        assert "secure" in answer.headers["set-cookie"].lower()
    with server.client() as http:  # plain HTTP: a Secure cookie would never come back
        assert login(http, sheriff).status_code == 303
        assert "secure" not in http.get("/login").headers.get("set-cookie", "").lower()


def test_a_handmade_alert_says_who_made_it_on_every_alert_view(
    server: LiveServer, data: Populated, engine: Engine
) -> None:
    agent = server.token("agent", machine="box", machine_class="test-class")
    with server.client(agent) as http:  # the newest commit measures slower again: a step nobody was told of
        assert http.post("/api/v1/runs", json=run_body(data.evil_commit, 140.0, 99)).status_code == 201
    who = '<script>window.pwned = "sheriff"</script>ada'
    sheriff = tokens.create_token(engine, Role.SHERIFF, now=datetime.now(UTC), name=who).secret
    with server.client(sheriff) as http:
        work = series_ids(http)["work"]
        made = http.post("/api/v1/alerts", json={"series_id": work, "revision": data.evil_commit})
        assert made.status_code == 201, made.text
        alert_id, summary = made.json()["alert"]["id"], made.json()["summary"]["id"]
    shown = "created by &lt;script&gt;window.pwned = &#34;sheriff&#34;&lt;/script&gt;ada"
    with server.client() as http:
        for path in ("/", f"/revision/{data.evil_commit}", f"/summaries/{summary}"):
            page = http.get(path).text
            assert shown in page, path
            assert_inert(page)
        marks = http.get(f"/series/{work}/data").json()["alerts"]
        assert {a["id"]: a["created_by"] for a in marks} == {data.alert_id: None, alert_id: who}
