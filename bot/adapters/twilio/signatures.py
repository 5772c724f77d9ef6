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
    # Without one well-formed hash, the validator would read the body as form fields.
    if not signature or not _one_hash(url):
        return False
    return bool(RequestValidator(auth_token).validate(url, body, signature))


def url_signature_valid(auth_token: str, url: str, signature: str) -> bool:
    """The signature of a JSON webhook's URL, before its body is read: the validator
    checks the URL's HMAC and leaves the body's hash (`body_signature_valid` checks
    both once the body is in)."""
    if not signature or not _one_hash(url):
        return False
    return bool(RequestValidator(auth_token).validate(url, {}, signature))


def _one_hash(url: str) -> bool:
    hashes = parse_qs(urlsplit(url).query).get("bodySHA256", [])
    return len(hashes) == 1 and re.fullmatch(r"[0-9a-fA-F]{64}", hashes[0]) is not None
