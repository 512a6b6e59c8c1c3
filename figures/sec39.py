"""§39 figures."""
