"""A local stand-in for Razorpay, Gallabox and Google Calendar/Meet (`mibo sandbox`).

The real services cannot be reached from development machines or CI, and they cannot be told
to fail on demand. This one server speaks the subset of their APIs our clients use, through the
official client libraries, so the same code runs against it and against production:

    /razorpay/v1/orders, /orders/{id}, /orders/{id}/payments, /payment_links, /payment_links/{id},
                /payment_links/{id}/cancel
    /gallabox/devapi/messages/whatsapp
    /google/token                                         (OAuth jwt-bearer grant)
    /google/calendar/v3/calendars/{calendarId}/events[/{eventId}]

It checks the credentials the clients send (the configured ones), records every request, can be
told to fail or stall on demand, and has control endpoints under /_sandbox/ for tests and demos.

One module per provider (razorpay, gallabox, google: its routes, its credential check and its
error shape), the control endpoints (control), the state they share (state), and the app
factory with the middleware that records requests and applies faults (app).
"""

from mibo.providers.sandbox.app import create_sandbox_app
from mibo.providers.sandbox.state import SANDBOX, SandboxState

__all__ = ["SANDBOX", "SandboxState", "create_sandbox_app"]
