"""Places: what to check first when one kind of segment (a country, a sender, a carrier)
fails. This project's advice, in its own words; the code's own runbook follows it in the
alert."""

from bot.domain.segments import SegmentKind

RUNBOOKS: dict[SegmentKind, tuple[str, ...]] = {
    SegmentKind.COUNTRY: (
        "Compare the senders to this country: when every one of them fails, the route or "
        "the country's networks are the likely cause rather than what you send.",
        "Look for an incident on this country's carriers at status.twilio.com; when there "
        "is none, open a Twilio support ticket with the sample SIDs.",
        "Make sure the country is still allowed in Messaging Geo Permissions (a country "
        "switched off there refuses messages with 21408), and that your sender type is one "
        "this country accepts.",
    ),
    SegmentKind.SENDER: (
        "Check this sender's registration: an A2P 10DLC campaign or a toll-free "
        "verification that is pending, rejected or suspended gets its traffic filtered or "
        "blocked.",
        "Review what it sent lately: new wording, link shorteners or a missing opt-out "
        "line can trip carrier filtering (30007).",
        "Move urgent traffic to another registered sender while you look into it.",
    ),
    SegmentKind.CARRIER: (
        "One carrier failing while the others deliver points to that carrier: filtering of "
        "your traffic, or trouble on its side.",
        "Look for an incident on this carrier at status.twilio.com; when there is none, "
        "open a Twilio support ticket with the sample SIDs.",
        "For filtering (30007), review the content and the senders' registration.",
    ),
    SegmentKind.SUBACCOUNT: (
        "Only this account's own messages fail this way: look at what changed in what it "
        "sends (a new sender, new wording, a new destination) rather than at Twilio.",
        "Check its senders' registration (A2P 10DLC campaign or toll-free verification) and "
        "its Geo Permissions, which each account keeps apart.",
        "If nothing changed on your side, open a Twilio support ticket with the sample SIDs.",
    ),
}
