"""What a client other than the page can reach, over plain HTTP and gradio_client against `python app.py`.

Only the files the catalog names are served (not their folders, not a catalog "image" that is no image), a
request body over the limit is refused before it is read, internal handlers are not in the public API, and the
public ones refuse a caller without the server-issued visitor token.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from stylist.app.config import AppConfig
from stylist.app.server import REPO, free_port, running_app

PUBLIC = {"/caption", "/complete", "/search", "/visitor", "/suggestions", "/vote", "/undo"}
PHOTO = sorted((REPO / "assets" / "examples").glob("*.png"))[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[str, Path]:
    """The app over a two-item catalog: one photo beside a private file, and one item whose image is /etc/passwd."""
    root = tmp_path_factory.mktemp("security")
    photos = root / "photos"
    photos.mkdir()
    shutil.copy(PHOTO, photos / "dress.png")
    (photos / "notes.txt").write_text("not for the web")
    catalog = {"name": "tiny", "items": [
        {"id": "dress", "title": "red floral cotton dress", "category": "dress", "image": "photos/dress.png"},
        {"id": "jeans", "title": "blue denim jeans", "category": "jeans", "image": "/etc/passwd"},
        {"id": "jacket", "title": "navy wool jacket", "category": "jacket"}]}
    (root / "catalog.json").write_text(json.dumps(catalog))
    args = ["--data-dir", str(root / "data"), "--catalog", str(root / "catalog.json")]
    with running_app(args, root / "app.log") as url:
        yield url, root


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_only_the_catalog_photos_are_served(site):
    url, root = site
    file = f"{url}gradio_api/file="
    served = list((root / "data" / "served").iterdir())  # the one photo, linked into the served folder
    assert [p.read_bytes() for p in served] == [(root / "photos" / "dress.png").read_bytes()]
    assert status(file + str(served[0])) == 200
    for private in (root / "photos" / "notes.txt", Path("/etc/passwd"), Path("/etc/hostname"),
                    root / "data" / "visitor-secret", root / "catalog.json",
                    root / "photos" / "dress.png"):  # the catalog's folder is never served, not even its photo
        assert status(file + urllib.parse.quote(str(private))) == 403, private
    assert "not an image file" in (root / "app.log").read_text()


def test_a_body_over_the_limit_is_refused_before_it_is_read(site):
    url, _ = site
    host = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    conn.putrequest("POST", "/gradio_api/upload")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(200_000_000))  # declared only: nothing is sent
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and b"over the limit" in response.read()
    conn.close()


def test_a_streamed_body_over_the_limit_is_refused(site):
    """No Content-Length (chunked): the server counts what it reads and stops past the limit (a JSON endpoint:
    the upload endpoint's own per-file limit would answer first)."""
    url, _ = site
    limit = AppConfig().max_request_bytes
    host = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    chunk = b"\0" * 1_000_000
    chunks = (chunk for _ in range(limit // len(chunk) + 3))
    try:
        conn.request("POST", "/gradio_api/queue/join", body=chunks, encode_chunked=True,
                     headers={"Content-Type": "application/json"})
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed before the rest was sent
    assert conn.getresponse().status == 413
    conn.close()


def test_internal_handlers_are_not_in_the_api(site):
    from gradio_client import Client

    url, _ = site
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    endpoints = client.view_api(print_info=False, return_format="dict")
    assert set(endpoints["named_endpoints"]) == PUBLIC and not endpoints["unnamed_endpoints"]
    with urllib.request.urlopen(f"{url}gradio_api/info", timeout=30) as response:
        assert set(json.load(response)["named_endpoints"]) == PUBLIC


def test_a_call_without_the_visitor_token_is_refused(site):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    url, _ = site
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    with pytest.raises(AppError, match="no valid visitor id: reload the page"):
        client.predict("", "", [], "navy cotton t-shirt", "", "", "", api_name="/complete")
    assert "dress" in json.dumps(client.predict("dress", api_name="/search"))  # what needs no visitor still works


def stored_votes(root: Path, visitor: str) -> list[tuple[str, str, bool]]:
    """(item, label, undone) of a visitor's rows in the store, oldest first."""
    with sqlite3.connect(f"file:{root / 'data' / 'feedback.sqlite'}?mode=ro", uri=True) as db:
        return [(item, label, bool(undone)) for item, label, undone in db.execute(
            "SELECT item_id, label, undone_at IS NOT NULL FROM events WHERE user = ? ORDER BY id", (visitor,))]


def test_gradio_client_drives_a_whole_visit(site):
    """README's "Use it from Python", step by step: a visitor token, suggestions, a like, a switch to a dislike, an
    undo, each stored as the page's clicks are; a later session goes on as the same visitor with the token."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    url, root = site
    client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    token = client.predict(api_name="/visitor")
    visitor = token.rsplit(".", 2)[0]
    captions = [box["value"] for box in client.predict([handle_file(str(PHOTO))], api_name="/caption")[4:]]
    assert captions[0] and captions[1:] == ["", "", ""]
    client.predict("", "", [], *captions, api_name="/complete")
    shown = client.predict(api_name="/suggestions")
    slot, cards = next(iter(shown.items()))
    item = cards[0]["item_id"]
    assert cards[0]["rank"] == 1 and cards[0]["vote"] == ""
    assert client.predict(slot, 1, "like", api_name="/vote").startswith("Recorded: you liked")
    assert client.predict(slot, 1, "like", api_name="/vote").startswith("Recorded")  # the same again: no new row
    assert stored_votes(root, visitor) == [(item, "like", False)]
    assert client.predict(slot, 1, "dislike", api_name="/vote").startswith("Recorded: you disliked")
    assert client.predict(api_name="/suggestions")[slot][0]["vote"] == "dislike"
    assert "taken back" in client.predict(slot, 1, api_name="/undo")
    assert stored_votes(root, visitor) == [(item, "like", True), (item, "dislike", True)]
    with pytest.raises(AppError, match="no vote on .* to take back"):
        client.predict(slot, 1, api_name="/undo")
    with pytest.raises(AppError, match="no suggestions for 'cape' are shown"):
        client.predict("cape", 1, "like", api_name="/vote")

    later = Client(url, verbose=False, download_files=False, analytics_enabled=False)
    assert later.predict(token, api_name="/visitor") == token  # the same visitor, not a new id
    later.predict("", "", [], "navy cotton t-shirt", "", "", "", api_name="/complete")
    later.predict(slot, 1, "like", api_name="/vote")
    assert stored_votes(root, visitor)[-1] == (item, "like", False)


def test_a_full_queue_says_so_at_once():
    """Beyond `queue_size` waiting requests Gradio refuses at once ("queue is full") instead of a long wait."""
    import gradio as gr
    from gradio_client import Client

    from stylist.app.ui.interface import with_queue

    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(lambda text: time.sleep(3) or text, box, box, api_name="slow")
    with_queue(demo, AppConfig(concurrency=1, queue_size=1)).launch(server_port=free_port(), prevent_thread_lock=True,
                                                                     quiet=True)
    try:
        client = Client(demo.local_url, verbose=False, download_files=False, analytics_enabled=False)
        jobs = [client.submit("x", api_name="/slow") for _ in range(4)]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(job.result(timeout=60))
            except Exception as exc:  # the client's error type for a refused job varies by transport
                outcomes.append(str(exc))
        assert "x" in outcomes and any("queue is full" in str(o).lower() for o in outcomes), outcomes
    finally:
        demo.close()


def test_one_address_flooding_the_queue_is_refused_before_its_body_is_read_and_others_still_join():
    """An address holding its share of the queue gets 503 at once for each further join, without its body being
    read (a body that is not even JSON gets the same 503, not FastAPI's 422); another address still joins."""
    import gradio as gr
    import httpx
    from starlette.middleware import Middleware

    from stylist.app.access import WebGuard
    from stylist.app.ui.interface import crowding, public_api, with_queue

    config = AppConfig(concurrency=1, queue_per_address=2)
    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(lambda text: time.sleep(5) or text, box, box, api_name="slow")
    with_queue(demo, config).launch(
        server_port=free_port(), prevent_thread_lock=True, quiet=True,
        app_kwargs={"middleware": [Middleware(WebGuard, public=public_api(demo), crowded=crowding(demo, config))]})
    try:
        join = f"{demo.local_url}gradio_api/queue/join"
        body = {"data": ["x"], "fn_index": 0, "session_hash": "flood", "trigger_id": None, "event_data": None}
        with httpx.Client(timeout=30) as flood:
            codes = [flood.post(join, json=body).status_code for _ in range(4)]
            garbage = flood.post(join, content=b"not json", headers={"Content-Type": "application/json"})
        assert codes == [200, 200, 503, 503], codes
        assert garbage.status_code == 503 and "this address has 2 requests" in garbage.json()["detail"]
        with httpx.Client(timeout=30, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
            assert other.post(join, json={**body, "session_hash": "other"}).status_code == 200
    finally:
        demo.close()


def test_captioning_waits_in_its_own_short_lane():
    """Captioning runs one at a time with at most `heavy_queue` waiting; past that it is refused at once, while
    other handlers still join."""
    import gradio as gr
    import httpx

    from stylist.app.ui.interface import with_queue

    with gr.Blocks() as demo:
        box = gr.Textbox()
        box.submit(lambda text: time.sleep(5) or text, box, box, api_name="caption", concurrency_id="heavy",
                   concurrency_limit=1)
        box.change(lambda text: text, box, box, api_name="other")
    with_queue(demo, AppConfig(heavy_queue=1)).launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        join = f"{demo.local_url}gradio_api/queue/join"
        body = {"data": ["x"], "session_hash": "s", "trigger_id": None, "event_data": None}
        with httpx.Client(timeout=30) as client:
            heavy = []
            for _ in range(3):
                heavy.append(client.post(join, json={**body, "fn_index": 0}))
                time.sleep(0.5)  # the first one starts running before the next joins
            assert [r.status_code for r in heavy] == [200, 200, 503]
            assert "too many photos are waiting" in heavy[2].json()["detail"]
            assert client.post(join, json={**body, "fn_index": 1}).status_code == 200
    finally:
        demo.close()


def test_internal_handlers_do_not_answer_by_name(site):
    """Gradio answers any handler by its name on /call and /run; only the public API does here."""
    url, _ = site
    for path in ("call/welcome", "run/welcome", "call/v2/welcome", "call/click", "run/export_pairs"):
        request = urllib.request.Request(f"{url}gradio_api/{path}", data=b'{"data": [null]}',
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=30)
            code = 200
        except urllib.error.HTTPError as exc:
            code = exc.code
        assert code == 404, path


def test_security_headers_and_cors_only_for_the_apps_own_origin(site):
    url, _ = site
    host = urllib.parse.urlsplit(url).netloc
    for origin, allowed in ((f"http://{host}", True), ("http://localhost:1", False), ("http://evil.example", False)):
        request = urllib.request.Request(f"{url}gradio_api/info", headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=30) as response:
            headers = response.headers
            assert "frame-ancestors 'self'" in headers["Content-Security-Policy"]
            assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["X-Content-Type-Options"] == "nosniff"
            assert (headers["Access-Control-Allow-Origin"] == origin) is allowed, origin


def test_monitoring_is_off_and_prints_no_key(site):
    url, root = site
    assert status(f"{url}monitoring") == 403 and status(f"{url}monitoring/summary") == 403
    assert "Monitoring URL" not in (root / "app.log").read_text()


def call(url: str, api: str, data: list) -> str:
    """One call of a public endpoint over Gradio's plain HTTP API (JSON as any client may write it); the answer's
    event stream as text."""
    request = urllib.request.Request(f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event}", timeout=60) as response:
        return response.read().decode()


def test_a_dropdown_value_not_in_its_choices_is_one_short_line(site):
    """A 1 MB season, a lone surrogate, or a 1 MB piece is refused in one short line; the log does not grow by it."""
    url, root = site
    log = root / "app.log"
    before = log.stat().st_size
    for season, pieces in (("x" * 1_000_000, []), ("\ud800", []), ("", ["shoes", "y" * 1_000_000])):
        answer = call(url, "complete", ["", season, pieces, "navy cotton t-shirt", "", "", ""])
        assert "event: error" in answer and "is not one of the choices" in answer and len(answer) < 400, answer[:400]
    assert log.stat().st_size - before < 20_000


def test_the_store_and_the_secrets_are_readable_by_the_owner_only(site):
    _, root = site
    for name in ("feedback.sqlite", "visitor-secret", "browser-secret"):
        assert ((root / "data" / name).stat().st_mode & 0o777) == 0o600, name
