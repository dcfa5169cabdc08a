"""Trusted channels (the medical insurance apps, mini-programs, hospitals' self-service kiosks): they log
their users in with a signed assertion (assertion.py) and hear about status changes by webhook
(mtb/webhooks)."""
