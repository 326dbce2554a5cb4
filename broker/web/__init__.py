"""HTTP surfaces: one thin blueprint each."""
