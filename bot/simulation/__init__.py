"""Simulation, apart from what serves production: a small Twilio (`simulator`) serving a
`scenario` built in code, a console stand-in for Slack, the demo and `simulate`."""
