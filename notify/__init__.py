"""Deliveries to people and systems outside gridcase: the notifier and the webhooks.

Both are consumers of the event log with state of their own in SQL (what was delivered, what waits
for a retry, who opted out, who subscribed), like the read model; they reach the outside through
channels (e-mail over SMTP, SMS through an HTTP gateway, work-chat robots, signed webhooks).
The composition root (``workers/composition.py``) builds them from the settings; nothing here reads
settings.
"""
