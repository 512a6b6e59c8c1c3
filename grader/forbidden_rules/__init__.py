"""Per-section rules: which library shortcuts an exercise may not use (``RULES`` in ``<section>.py``)."""
