"""§42 figures."""
