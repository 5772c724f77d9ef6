"""Hygiene in PostgreSQL, as on SQLite: every final outbound message to the numbers that
failed with one of the codes that make a number worth a look."""

from collections.abc import Sequence
from datetime import datetime

from bot.domain.hygiene import Outcome
from bot.store.counting import SENDER_SQL
from bot.store.postgresql import rollup
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.migrations import MOMENT


async def outcomes(cursor: Cursor, codes: Sequence[int], since: datetime) -> list[Outcome]:
    final = f"{MOMENT} >= %s and {rollup.FINAL_OUTBOUND}"
    await cursor.execute(
        f'select "to", {MOMENT}, error_code, {SENDER_SQL} from messages where {final} '
        f'and "to" in (select "to" from messages where {final} and error_code = any(%s))',
        [since, since, list(codes)],
    )
    return [
        Outcome(to, moment, code, sender or "")
        for to, moment, code, sender in await cursor.fetchall()
    ]
