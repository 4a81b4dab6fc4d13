"""Tabular softmax policy-gradient students and their optimizers (the SPG-NM study)."""
