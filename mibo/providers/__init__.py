"""Clients for the outside services the actors call: Razorpay, Gallabox (WhatsApp), Google Calendar.

All of them are synchronous (the official libraries are), so actors call them from worker
threads, never from the API's event loop. Every call has a timeout, retries 5xx and timeouts
with bounded backoff, never retries 4xx, and fails with `ProviderError`.
"""
