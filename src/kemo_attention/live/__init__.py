"""Live prediction: a store of participants' recent raw data (store.py), what the features
need from before its window (history.py), and ingest/predict on top (service.py)."""
