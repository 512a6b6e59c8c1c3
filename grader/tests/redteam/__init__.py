"""Red-team submissions: malicious or broken variants of the reference solutions (see attacks.py)."""
