"""Hygiene in SQLite: every final outbound message to the numbers that failed with one of
the codes that make a number worth a look."""

from collections.abc import Sequence
from datetime import datetime

import sqlite_utils

from bot.domain.hygiene import Outcome
from bot.store.counting import SENDER_SQL
from bot.store.sqlite import rollup
from bot.store.sqlite.migrations import MOMENT, iso_or_none


def outcomes(db: sqlite_utils.Database, codes: Sequence[int], since: datetime) -> list[Outcome]:
    final = f"{MOMENT} >= ? and {rollup.FINAL_OUTBOUND}"
    rows = db.execute(
        f"select [to], {MOMENT}, error_code, {SENDER_SQL} from messages where {final} "
        f"and [to] in (select [to] from messages where {final} and error_code in "
        f"({', '.join('?' * len(codes))}))",
        [iso_or_none(since), iso_or_none(since), *codes],
    ).fetchall()
    return [
        Outcome(to, datetime.fromisoformat(moment), code, sender or "")
        for to, moment, code, sender in rows
    ]
