"""Privacy: phone numbers shortened to what a channel or a log may show."""

import re

# E.164 (also URL-encoded, as in query strings) or a bare run of 10+ digits; dates such
# as 2010-04-01 and SIDs' hex are left alone.
_NUMBER = re.compile(r"(?:\+|%2B)\d{6,15}\b|\b\d{10,15}\b", re.IGNORECASE)


def mask_number(number: str) -> str:
    """`+12025550156` -> `+1•••••••156`: enough to tell numbers apart, not to dial one."""
    digits = [c for c in number if c.isdigit()]
    if len(digits) < 6:
        return "•" * len(digits)
    head = 1 if number.startswith("+") else 0
    shown_head = "+" + digits[0] if head else ""
    return shown_head + "•" * (len(digits) - head - 3) + "".join(digits[-3:])


def mask_numbers_in(text: str) -> str:
    """Every run that looks like a phone number in `text`, masked."""
    return _NUMBER.sub(
        lambda m: mask_number(m.group(0).replace("%2B", "+").replace("%2b", "+")), text
    )
