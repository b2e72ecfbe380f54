"""The study: every model on repeated participant-grouped CV and/or leave-one-participant-out, with intervals and tests that fit the design."""
