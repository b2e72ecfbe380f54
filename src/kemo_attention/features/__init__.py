"""Features: raw tables -> streams -> grid/window statistics -> the feature matrix.

``streams.py`` builds the streams, ``layout.py`` holds the fixed columns, ``assemble.py``
one participant's rows, ``extract.py`` the whole-release driver; import from those modules.
"""
