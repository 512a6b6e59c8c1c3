"""§40 figures."""
