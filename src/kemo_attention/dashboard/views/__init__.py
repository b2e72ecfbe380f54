"""The dashboard's pages, one module each, each with ``render(cfg)``.

(Named ``views`` rather than ``pages``: a ``pages/`` folder beside ``app.py`` would make
Streamlit add its own automatic page navigation.)
"""
