"""Reading a K-EmoPhone release: layout (find files), schema (27 types), read (typed frames,
dirt as Problem records), clean (the dirt rules), check (the release report), commands (CLI)."""
