"""The inference API (FastAPI) over one exported bundle.

Start it with ``kemo-attention serve models/attention-lgbm.pkl`` (127.0.0.1:8000; docs at
``/docs``). Load only bundles you trust: a pickle runs code when loaded; the server refuses a
bundle whose SHA-256 or library versions differ from its manifest.

Routes:

* ``GET /health`` -> ``{"status": "ok", "model": ..., "bundle_version": ...}``
* ``GET /model`` -> the bundle's manifest (feature names, kinds, training defaults, scores)
* ``POST /predict`` with ``{"rows": [{feature: value, ...}], "fill_missing": false}`` (or one
  ``{"features": {...}}``) -> per row ``probability``, ``label`` (threshold 0.5),
  ``bundle_version``; a row lacking features is refused (422, naming them) unless
  ``fill_missing`` is true; unknown names come back in ``ignored_features``.
* ``POST /predict/raw`` with ``{"prompt_time": epoch ms or ISO 8601 with offset,
  "records": {"HR": [{"timestamp": ..., "bpm": ...}], ...}, "userinfo": {...},
  "past_labels": [{"prompt_time": ..., "label": 0|1}]}`` -> features computed by the training
  code (causal mode), then the prediction. Bundles trained on reference-mode features are
  refused (409): those features use data recorded after the prompt.

Example::

    curl -s localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"features": {"HRT#VAL": 72.0}, "fill_missing": true}'
"""
