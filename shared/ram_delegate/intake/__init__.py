"""Intake from ticketing and approval systems: one adapter per source, one contract (``contract.py``)."""
