"""The inference API (FastAPI) over one exported bundle.

Start it with ``kemo-attention serve models/attention-lgbm.pkl`` (127.0.0.1:8000; docs at
``/docs``). Load only bundles you trust: a pickle runs code when loaded; the server refuses a
bundle whose SHA-256 or library versions differ from its manifest, and, with ``--sha256 HEX``
(or ``KEMO_BUNDLE_SHA256``), any file but that one.

Routes:

* ``GET /health`` -> ``{"status": "ok", "model": ..., "bundle_version": ...}``
* ``GET /model`` -> the bundle's manifest (feature names, kinds, training defaults, scores)
  and ``predict_raw``: ``{"available": bool, "reason": ...}``
* ``POST /predict`` with ``{"rows": [{feature: value, ...}], "fill_missing": false}`` (or one
  ``{"features": {...}}``) -> per row ``probability``, ``label`` (threshold 0.5),
  ``bundle_version``; a row lacking features is refused (422, naming them) unless
  ``fill_missing`` is true; unknown names come back in ``ignored_features``.
* ``POST /predict/raw`` with ``{"prompt_time": epoch ms or ISO 8601 with offset,
  "records": {"HR": [{"timestamp": ..., "bpm": ...}], ...}, "userinfo": {...},
  "past_labels": [{"prompt_time": ..., "label": 0|1}]}`` -> features computed by the training
  code (causal mode), then the prediction. Bundles not trained on causal features (reference
  mode, or unknown) are refused (409). Records and answers at or after the prompt are
  ignored and listed in ``warnings``, with the streams the model uses that had no data.

* ``GET /health/live``, ``GET /health/ready`` (503 with the reasons when not ready),
  ``GET /metrics`` (Prometheus), ``POST /admin/reload`` (a new bundle without a restart; so
  does ``SIGHUP``): docs/live.md, Operations.

Client mistakes are 4xx naming the field; anything else is 500 with ``request_id`` (and the
``X-Request-ID`` header), the traceback in the server log under that id.

Example::

    curl -s localhost:8000/predict -H 'content-type: application/json' \\
         -d '{"features": {"HRT#VAL": 72.0}, "fill_missing": true}'
"""
