"""Events pushed to registered channels, signed as Standard Webhooks define: an outbox written in the
transaction of the change (events.py), delivered by a worker with retries and a log (delivery.py)."""
