"""Console Slack: a stand-in for Slack's Web API that prints what the bot posts.

An aiohttp app (run it on 127.0.0.1, port 0) answering the few methods the watcher calls
(`chat.postMessage`, `chat.update`, `chat.getPermalink`, `auth.test`). Each post, edit and
thread reply is printed as readable text, the Block Kit rendered, for `python -m bot demo`.
"""

import json
import re
import textwrap
from collections.abc import Callable
from typing import Any

from aiohttp import web

WIDTH = 88
_MENTION = re.compile(r"<@([A-Z0-9]+)>")


class ConsoleSlack:
    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.posted = 0
        self.origin = ""  # set by whoever serves the app
        self._threads: dict[str, int] = {}  # ts of a top-level message -> its number
        self._shown: dict[str, list[str]] = {}  # ts -> the lines printed for it last

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        return app

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.method == "GET":
            body: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        if method == "chat.postMessage":
            self.posted += 1
            ts = f"1700000000.{self.posted:06d}"
            if thread := body.get("thread_ts"):
                self._print(f"↳ in the thread of message {self._threads.get(thread, '?')}", body)
            else:
                self._threads[ts] = len(self._threads) + 1
                self._shown[ts] = self._print(
                    f"NEW MESSAGE {self._threads[ts]} in {body.get('channel')}", body
                )
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})
        if method == "chat.update":
            ts = str(body.get("ts"))
            title = f"MESSAGE {self._threads.get(ts, '?')} EDITED (the lines that changed)"
            self._shown[ts] = self._print(title, body, before=self._shown.get(ts))
            return web.json_response({"ok": True, "channel": body.get("channel"), "ts": ts})
        if method == "chat.getPermalink":
            ts = str(body.get("message_ts", "")).replace(".", "")
            link = f"https://example.slack.com/archives/{body.get('channel')}/p{ts}"
            return web.json_response({"ok": True, "permalink": link})
        return web.json_response({"ok": True, "user_id": "UDEMO", "team_id": "TDEMO"})

    def _print(
        self, title: str, body: dict[str, Any], before: list[str] | None = None
    ) -> list[str]:
        """Print a message, or for an edit only its new lines; returns all its lines."""
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        lines = render_blocks(blocks) if blocks else _wrap(_plain(str(body.get("text", ""))))
        shown = lines if before is None else [ln for ln in lines if ln and ln not in before]
        rule = "─" * WIDTH
        self.out("\n".join(["", f"┌ Slack · {title}", *("│ " + line for line in shown), rule]))
        return lines


def render_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Block Kit as terminal text: headers, field pairs, sections, context, buttons."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            lines += [title, "═" * min(len(title), WIDTH)]
        elif kind == "section":
            if "text" in block:
                lines += ["", *_wrap(_plain(block["text"]["text"]))]
            for f in block.get("fields", []):
                label, _, value = _plain(f["text"]).partition("\n")
                lines += _wrap(f"{label}: {value}")
        elif kind == "context":
            lines += ["", *_wrap(" · ".join(_plain(e.get("text", "")) for e in block["elements"]))]
        elif kind == "actions":
            buttons = "  ".join(f"[{e['text']['text']}]" for e in block["elements"])
            lines += ["", buttons]
    return lines


def _plain(mrkdwn: str) -> str:
    text = mrkdwn.replace("*", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _MENTION.sub(r"@\1", text)


def _wrap(text: str) -> list[str]:
    return [w for line in text.split("\n") for w in (textwrap.wrap(line, WIDTH - 2) or [""])]
