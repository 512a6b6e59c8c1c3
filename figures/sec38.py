"""§38 figures."""
