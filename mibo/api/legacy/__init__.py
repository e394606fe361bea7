"""The admin panel's contract: the routes, bodies and envelope the chain's existing admin panel was
written against, served beside the spec's API under a prefix of its own (ADMIN_PANEL_PREFIX).

Translation only: each handler parses the panel's request with a schema of schemas.legacy, calls the
same domain rule as the spec's route it translates (through mibo.api.work or the spec handler's own
helpers), and shapes the answer. No SQL and no rule lives here (tests/test_legacy_layering.py).
"""
