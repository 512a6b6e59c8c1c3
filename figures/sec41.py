"""§41 figures."""
