"""The study: every model on every label with intervals, tests, calibration, personalization and tuning."""
