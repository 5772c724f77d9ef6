"""One adapter per outside system, each the only importer of its library: Slack inbound
(`slack`, Bolt) and outbound (`slack_poster`), Twilio's API (`twilio_api`) and its
StatusCallback (`webhook`), Twilio's published dictionary (`sync`); `rejections` logs the
requests they refuse."""
