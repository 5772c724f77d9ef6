"""Registrations: the account's A2P 10DLC brands and campaigns and its toll-free
verifications, how each status stands, and which changes the team must hear of.

Pure. A brand or campaign that fails, or a toll-free verification that Twilio rejects,
is days ahead of the failures it causes: US messages from unregistered 10DLC numbers
fail with 30034, from unverified toll-free numbers with 30032. Statuses are Twilio's
(Messaging API v1); anything not known as approved or refused counts as pending.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    BRAND = "brand"
    CAMPAIGN = "campaign"
    TOLL_FREE = "toll-free"


class Standing(StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    REFUSED = "refused"  # failed, rejected or suspended: the team must act


_APPROVED = {
    Kind.BRAND: {"APPROVED"},
    Kind.CAMPAIGN: {"VERIFIED"},
    Kind.TOLL_FREE: {"TWILIO_APPROVED"},
}
_REFUSED = {
    Kind.BRAND: {"FAILED", "SUSPENDED"},
    Kind.CAMPAIGN: {"FAILED", "SUSPENDED"},
    Kind.TOLL_FREE: {"TWILIO_REJECTED"},
}
# The code a US message fails with while the registration is not approved.
BLOCKED_CODE = {Kind.BRAND: 30034, Kind.CAMPAIGN: 30034, Kind.TOLL_FREE: 30032}
NAMES = {
    Kind.BRAND: "A2P 10DLC brand",
    Kind.CAMPAIGN: "A2P 10DLC campaign",
    Kind.TOLL_FREE: "toll-free verification",
}


@dataclass(frozen=True)
class Registration:
    """One registration as Twilio reports it: `about` says which (a brand's type, a
    campaign's use case and Messaging Service, a toll-free number: masked by whoever
    posts it), `reason` Twilio's words on a refusal, as given."""

    kind: Kind
    sid: str
    status: str
    about: str = ""
    reason: str = ""

    @property
    def standing(self) -> Standing:
        status = self.status.upper()
        if status in _APPROVED[self.kind]:
            return Standing.APPROVED
        if status in _REFUSED[self.kind]:
            return Standing.REFUSED
        return Standing.PENDING


@dataclass(frozen=True)
class StatusChange:
    """A registration whose status the team should hear of, and what it was before
    (None: the bot sees it for the first time)."""

    registration: Registration
    before: str | None


def changes(held: Mapping[str, str], found: Sequence[Registration]) -> list[StatusChange]:
    """The changes to post: a registration refused (on first sight too: it is news
    whenever the bot learns it), or approved after the bot saw it otherwise. A pending
    status, and an approval seen first, are kept quietly."""
    posted = []
    for registration in found:
        before = held.get(registration.sid)
        if before is not None and before.upper() == registration.status.upper():
            continue
        standing = registration.standing
        if standing is Standing.REFUSED or (standing is Standing.APPROVED and before is not None):
            posted.append(StatusChange(registration, before))
    return posted


def fixes(registration: Registration) -> tuple[str, ...]:
    """What to do about a refusal, in order (the team's runbook, not Twilio's words)."""
    if registration.standing is not Standing.REFUSED:
        return ()
    read = (
        "Read Twilio's reason above, and the registration in the Console (Messaging, "
        "Regulatory Compliance)."
    )
    if registration.kind is Kind.BRAND:
        return (
            read,
            "Make the business details in the brand's Trust Hub profile match the official "
            "records exactly: legal name, tax ID (EIN), address, website.",
            "Resubmit the brand; its campaigns can be registered only once it is approved.",
            "Until then, send US traffic from a verified toll-free number or a short code.",
        )
    if registration.kind is Kind.CAMPAIGN:
        return (
            read,
            "Check that the use case, the sample messages and the description match what "
            "is really sent, and that the opt-in flow, opt-out (STOP) and HELP wording and "
            "privacy policy are stated where a reviewer can see them.",
            "Edit and resubmit the campaign (a suspended one may need Twilio support).",
            "Until it is verified, move US traffic off the service's 10DLC numbers.",
        )
    return (
        read,
        "Fix what the rejection names (often the business website, the opt-in proof or the "
        "use case) and resubmit the verification, if Twilio allows an edit, or open a new one.",
        "Until it is approved, send US traffic from a 10DLC number with a verified "
        "campaign, or a short code.",
    )
