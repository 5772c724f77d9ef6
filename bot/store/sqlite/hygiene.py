"""Hygiene in SQLite: the failures that make a number worth a look, and for each number
that has one, when something else last reached it (`hygiene.recorded` says it in
Python). Both read through indexes and come back counted, not as every message."""

from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from bot.domain.hygiene import Last, Outcome, Record
from bot.store.counting import SENDER_SQL
from bot.store.sqlite import rollup
from bot.store.sqlite.migrations import MOMENT, iso_or_none


def record(
    db: sqlite_utils.Database, codes: Sequence[int], streak_code: int, since: datetime
) -> Record:
    final = f"{MOMENT} >= ? and {rollup.FINAL_OUTBOUND}"
    failing = f"{final} and error_code in ({', '.join('?' * len(codes))})"
    start = iso_or_none(since)
    with db.atomic():  # one snapshot for both
        failures = db.execute(
            f"select [to], {MOMENT}, error_code, {SENDER_SQL} from messages where {failing}",
            [start, *codes],
        ).fetchall()
        lasts = db.execute(
            f"select [to], max(case when error_code is null then {MOMENT} end), "
            f"max(case when error_code is null or error_code != ? then {MOMENT} end) "
            f"from messages where {final} and [to] in (select [to] from messages where "
            f"{failing}) group by [to]",
            [streak_code, start, start, *codes],
        ).fetchall()
    return Record(
        tuple(
            Outcome(to, datetime.fromisoformat(moment), code, sender or "")
            for to, moment, code, sender in failures
        ),
        {to: Last(_moment(delivered), _moment(other)) for to, delivered, other in lasts},
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
