"""One adapter per outside system, each the only importer of its library: Slack (`slack`:
Bolt's listeners in, the alert channel's posts out), Twilio's API (`twilio`) and its
StatusCallback (`webhook`), Twilio's published dictionary (`sync`); `rejections` logs the
requests they refuse."""
