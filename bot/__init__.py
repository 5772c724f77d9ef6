"""A Slack bot for the people on call for Twilio SMS: it explains Twilio errors."""
