"""Signatures: whether a webhook really comes from Twilio, checked with twilio-python's
RequestValidator (the Auth Token's HMAC of the public URL, and of the form fields or the
body's hash)."""

import re
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator


def signature_valid(auth_token: str, url: str, params: dict[str, str], signature: str) -> bool:
    """Whether a webhook request really comes from Twilio: X-Twilio-Signature is an HMAC
    of the full public URL and the form fields, keyed by the account's Auth Token."""
    return bool(signature) and bool(RequestValidator(auth_token).validate(url, params, signature))


def body_signature_valid(auth_token: str, url: str, body: str, signature: str) -> bool:
    """Whether a JSON webhook (an Event Streams delivery) comes from Twilio: the body's
    SHA-256 is in the URL's `bodySHA256` parameter, and X-Twilio-Signature is an HMAC of
    the full URL alone, keyed by the Auth Token."""
    hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
    # Without one well-formed hash, the validator would read the body as form fields.
    if not signature or len(hashes) != 1 or not re.fullmatch(r"[0-9a-fA-F]{64}", hashes[0]):
        return False
    return bool(RequestValidator(auth_token).validate(url, body, signature))
