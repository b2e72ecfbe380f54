"""The study: every self-report, repeated grouped CV, intervals, tests, calibration, tuning, personalization, one report."""
