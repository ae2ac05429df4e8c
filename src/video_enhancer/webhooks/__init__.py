"""Webhooks: users' receivers of the event log, signed per the Standard Webhooks specification."""
