"""Renderers, pure: answers and alerts as Slack Block Kit (`blocks`, `incident_blocks`)
and as terminal text (`terminal`)."""
