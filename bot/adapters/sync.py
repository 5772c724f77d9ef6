"""Sync: bring Twilio's published error dictionary into the store, from the web or a file.

Twilio's text is downloaded on the user's request and kept in their database; the
repository never ships it.
"""

import json
import logging
from pathlib import Path

import aiohttp

from bot.answers import dictionary
from bot.errors import DictionaryError
from bot.store import Store

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_SECONDS = 60
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024  # the real file is a few MB


async def download(url: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise DictionaryError(f"{url} answered HTTP {response.status}")
            body = bytearray()
            # read(n) returns what is buffered, not n bytes: collect every chunk.
            async for chunk in response.content.iter_chunked(2**16):
                body += chunk
                if len(body) > MAX_DOWNLOAD_BYTES:
                    raise DictionaryError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MB")
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise DictionaryError(f"could not download {url}: {exc or type(exc).__name__}") from exc
    return bytes(body)


async def import_bytes(raw: bytes, store: Store, imported_on: str) -> tuple[int, int, int]:
    """Parse and store a dictionary file: (entries read, rows written, items skipped)."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DictionaryError(f"not a JSON file: {exc}") from exc
    parsed = dictionary.parse(document, imported_on)
    written = await store.dictionary.save(parsed.entries)
    log.info(
        "imported %d entries (%d written, %d skipped)", len(parsed.entries), written, parsed.skipped
    )
    return len(parsed.entries), written, parsed.skipped


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DictionaryError(f"cannot read {path}: {exc.strerror}") from exc
