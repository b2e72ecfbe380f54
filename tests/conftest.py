"""Suite-wide settings: nothing phones home, plots render off-screen, no hung test lasts forever."""

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
# scikit-learn runs its array-API estimator check only with this set before SciPy loads;
# without it that check of EvXGBClassifier would skip instead of run.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
