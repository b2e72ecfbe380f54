"""Bundles: a fitted model with its manifest.

``runtime.py`` is the format and everything that uses a bundle (load with its checks,
predict, explain); ``export.py`` makes one (fit on all rows, CV scores from an ``evaluate``
folder); ``commands.py`` is the ``export`` verb.
"""
