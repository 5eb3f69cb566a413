"""The operations of matdiff's language, one module per family. Importing this package
registers them all in matdiff.expr.OPS (by name) and SPELLINGS (by spelling)."""

from . import arith, axes, elementwise, index, kron, linalg, reductions  # noqa: F401  (registration)
from .arith import broadcast_to, eye, ones, size, zeros  # noqa: F401
