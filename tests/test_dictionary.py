"""Importing Twilio's error dictionary: parsing its quirks, storing it, answering from it."""

import json
from pathlib import Path

import pytest

from bot.adapters import sync
from bot.answers import dictionary
from bot.errors import DictionaryError
from bot.store.sqlite import SqliteStore

SAMPLE = Path(__file__).parent / "data" / "sample-error-codes.json"


@pytest.fixture
def parsed() -> dictionary.ParsedDictionary:
    return dictionary.parse(json.loads(SAMPLE.read_bytes()), "2026-11-23")


def by_code(parsed: dictionary.ParsedDictionary) -> dict[int, dictionary.ImportedEntry]:
    return {e.code: e for e in parsed.entries}


def test_unusable_items_are_skipped_and_counted(parsed):
    assert sorted(by_code(parsed)) == [11750, 21408, 30003, 63016]
    assert parsed.skipped == 3


def test_markdown_lists_become_items_and_crlf_is_gone(parsed):
    entry = by_code(parsed)[63016]
    assert entry.causes == ("First sample cause", "Second sample cause, continued on a new line")
    assert entry.solutions == ("First sample step", "Second sample step")
    assert entry.description == (
        "A sample description with a relative link (https://www.twilio.com/docs/sample) "
        "and a tag.\nSecond line."
    )
    assert "\r" not in json.dumps(entry.__dict__)


def test_null_causes_are_taken_from_docs(parsed):
    entry = by_code(parsed)[11750]
    assert entry.causes == ("Older cause one", "Older cause two")
    assert entry.solutions == ("Older fix one",)
    assert entry.description == "Sample secondary message."


def test_newest_title_wins_within_a_file(parsed):
    assert by_code(parsed)[21408].title == "Newer sample title for 21408"


@pytest.mark.parametrize("document", [{}, "text", [], [{"message": "no code"}]])
def test_a_file_with_nothing_usable_is_an_error(document):
    with pytest.raises(DictionaryError):
        dictionary.parse(document, "2026-11-23")


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("[Console](https://console.twilio.com)", "Console (https://console.twilio.com)"),
        ("[https://x.test](https://x.test)", "https://x.test"),
        ("# Heading\r\ntext", "Heading\ntext"),
        ("a<br/>b <b>bold</b>", "ab bold"),
        ("keep 5 < 6 as text", "keep 5 < 6 as text"),
        ("one\n\n\n\ntwo", "one\n\ntwo"),
    ],
)
def test_clean_markdown(markdown, plain):
    assert dictionary.clean_markdown(markdown.replace("\r\n", "\n")) == plain


async def test_store_keeps_the_newer_entry_across_imports(store, parsed):
    """On each backend (the `store` fixture)."""
    assert await store.dictionary.save(parsed.entries) == 4
    older = dictionary.ImportedEntry(
        **{**by_code(parsed)[21408].__dict__, "title": "Stale", "last_updated": "2020-01-01"}
    )
    assert await store.dictionary.save([older]) == 0
    newer = await store.dictionary.entry(21408)
    assert newer is not None and newer.title == "Newer sample title for 21408"
    kept = await store.dictionary.entry(11750)
    assert kept is not None and kept.causes == ("Older cause one", "Older cause two")
    assert await store.dictionary.entry(40000) is None
    assert await store.dictionary.size() == 4


async def test_import_bytes_rejects_non_json(tmp_path):
    store = SqliteStore(":memory:")
    try:
        with pytest.raises(DictionaryError, match="not a JSON file"):
            await sync.import_bytes(b"<html>maintenance</html>", store, "2026-11-23")
    finally:
        store.close()


async def test_download_reads_the_file_over_http(aiohttp_server):
    from aiohttp import web

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=SAMPLE.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/docs/api/errors/twilio-error-codes.json", serve)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    raw = await sync.download(str(server.make_url("/docs/api/errors/twilio-error-codes.json")))
    assert raw == SAMPLE.read_bytes()
    with pytest.raises(DictionaryError, match="answered HTTP 404"):
        await sync.download(str(server.make_url("/missing.json")))


async def test_download_failure_is_a_clear_error(unused_tcp_port):
    with pytest.raises(DictionaryError, match="could not download"):
        await sync.download(f"http://127.0.0.1:{unused_tcp_port}/twilio-error-codes.json")


async def test_download_collects_a_body_sent_in_many_pieces(aiohttp_server):
    from aiohttp import web

    entries = [
        {
            "code": 60000 + i,
            "message": f"Sample {i}",
            "description": "x" * 200,
            "last_updated": "2025",
        }
        for i in range(2000)
    ]
    raw = json.dumps(entries).encode()
    assert len(raw) > 400_000

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start in range(0, len(raw), 10_000):
            await response.write(raw[start : start + 10_000])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/big.json", trickle)
    server = await aiohttp_server(app, host="127.0.0.1", port=0)
    assert await sync.download(str(server.make_url("/big.json"))) == raw


@pytest.mark.parametrize("kind", ["directory", "corrupt", "unwritable"])
def test_an_unusable_database_is_a_clear_error(tmp_path, kind):
    from bot.errors import StoreError

    path = tmp_path / "bot.db"
    if kind == "directory":
        path.mkdir()
    elif kind == "corrupt":
        path.write_bytes(b"this is not a database" * 100)
    else:
        path = tmp_path / "missing-dir" / "no" / "bot.db"
        (tmp_path / "missing-dir").write_text("a file where a directory should be")
    with pytest.raises(StoreError, match="DATABASE_PATH"):
        SqliteStore(str(path))
