"""The watcher: reads the Twilio account every cycle and tells the alert channel.

One module per stage of its pipeline, pure decisions apart from the I/O that feeds them:

    cycle      lease, schedule, ingest, prune (I/O)
    reads      what the pure stages need from the store, gathered (I/O)
    detect     tallies and baselines -> a reading per watched code (pure)
    incidents  a reading and the incident as stored -> what changes, what Slack sees
               (pure; runs inside the store's transaction)
    delivery   the outbox to Slack, and what each Slack failure means (I/O)
    actions    the incident buttons and `status` (I/O)
    health     what /healthz and status say (pure)
    config     what the watcher needs of the settings, and its tuning
"""
