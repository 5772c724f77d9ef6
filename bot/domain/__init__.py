"""The domain: values and rules every side shares, pure (no I/O, no clock, no
environment): messages and their statuses, detection (`spikes`), incident decisions
(`alerting`), the team's policy numbers, and what privacy allows to be shown."""
