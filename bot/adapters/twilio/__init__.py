"""The Twilio adapter, the only package that imports twilio: calls (`api`), timeouts and
retries (`http`), reading records (`records`), error mapping.

Built on twilio-python's `AsyncTwilioHttpClient` (one aiohttp session per process; close
it). Its client-level timeout is never applied (twilio-python #925) and it does not retry
429, so `HttpClient.request` does both: every request is bounded by `asyncio.wait_for`,
and 429/5xx/timeouts/broken bodies are retried with backoff, honouring `Retry-After`.
TWILIO_API_URL replaces the `https://*.twilio.com` host of every URL, absolute next-page
URLs included. Results come back as plain values; failures as `bot.errors.TwilioError`.
"""

from bot.adapters.twilio.api import Account, TwilioApi
from bot.adapters.twilio.signatures import body_signature_valid, signature_valid

__all__ = ["Account", "TwilioApi", "body_signature_valid", "signature_valid"]
