"""Hygiene in PostgreSQL, as on SQLite: the failures that make a number worth a look, and
for each number that has one, when something else last reached it."""

from collections.abc import Sequence
from datetime import datetime

from bot.domain.hygiene import Last, Outcome, Record
from bot.store.counting import SENDER_SQL
from bot.store.postgresql import rollup
from bot.store.postgresql.connections import Cursor
from bot.store.postgresql.migrations import MOMENT


async def record(cursor: Cursor, codes: Sequence[int], streak_code: int, since: datetime) -> Record:
    final = f"{MOMENT} >= %s and {rollup.FINAL_OUTBOUND}"
    failing = f"{final} and error_code = any(%s)"
    await cursor.execute("set transaction isolation level repeatable read")  # one snapshot
    await cursor.execute(
        f'select "to", {MOMENT}, error_code, {SENDER_SQL} from messages where {failing}',
        [since, list(codes)],
    )
    failures = await cursor.fetchall()
    await cursor.execute(
        f'select "to", max(case when error_code is null then {MOMENT} end), '
        f"max(case when error_code is null or error_code != %s then {MOMENT} end) "
        f'from messages where {final} and "to" in (select "to" from messages where '
        f'{failing}) group by "to"',
        [streak_code, since, since, list(codes)],
    )
    lasts = await cursor.fetchall()
    return Record(
        tuple(Outcome(to, moment, code, sender or "") for to, moment, code, sender in failures),
        {to: Last(delivered, other) for to, delivered, other in lasts},
    )
