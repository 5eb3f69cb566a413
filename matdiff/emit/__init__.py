"""Output: NumPy source (numpy.py) and paper-style text (pretty.py)."""
