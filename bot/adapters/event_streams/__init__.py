"""Event Streams: Twilio's push of every message status change, as a webhook sink
(`sink`) reading CloudEvents batches (`cloudevents`)."""
