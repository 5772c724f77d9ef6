"""Registration report: a brand, campaign or toll-free verification whose status changed,
as one message for the alert channel.

Pure. A refusal is a warning with Twilio's reason, the code US traffic will fail with,
and what to fix; an approval is a short note. Numbers in it are masked (a toll-free
verification is named by its number), as everything the channel shows.
"""

from dataclasses import dataclass

from bot.answers.knowledge import Section
from bot.domain.privacy import mask_numbers_in
from bot.domain.registrations import BLOCKED_CODE, NAMES, Standing, StatusChange, fixes

MAX_REASON_CHARS = 1_500  # Twilio's reasons are a sentence or two; a field holds 2 000


@dataclass(frozen=True)
class RegistrationReport:
    change: StatusChange
    blocked_title: str  # the official title of the code its numbers' US traffic fails with

    @property
    def _refused(self) -> bool:
        return self.change.registration.standing is Standing.REFUSED

    @property
    def heading(self) -> str:
        r = self.change.registration
        what = NAMES[r.kind] + (f" · {mask_numbers_in(r.about)}" if r.about else "")
        if self._refused:
            return f"⚠️ {what}: {r.status.lower().replace('_', ' ')}"
        return f"✅ {what}: approved"

    def facts(self) -> list[tuple[str, str]]:
        r, before = self.change.registration, self.change.before
        status = f"{before} → {r.status}" if before else r.status
        found = [("Status", status), ("SID", r.sid)]
        if self._refused:
            if r.reason:
                reason = mask_numbers_in(r.reason)[:MAX_REASON_CHARS]
                found.append(("Twilio's reason", reason))
            code = BLOCKED_CODE[r.kind]
            found.append(
                (
                    "What fails",
                    f"US messages from its numbers, with {code} {self.blocked_title}".strip()
                    + ", while it is not approved",
                )
            )
        return found

    def sections(self) -> list[Section]:
        steps = fixes(self.change.registration)
        return [Section("What to fix", steps, numbered=True)] if steps else []
