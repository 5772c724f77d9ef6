"""The answering side: what `/twilio why`, `lookup`, `status` and `help` say. The
knowledge base and Twilio's dictionary, the commands table, and the reports they build;
`service` is the one module here that does I/O (the store and Twilio, concurrently)."""
