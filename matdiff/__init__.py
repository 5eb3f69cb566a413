"""matdiff: symbolic matrix calculus. Read a matrix expression in NumPy or paper notation,
check its dimensions, derive DF|X[V], gradients and friends in textbook form, and emit
NumPy code verified against finite differences."""

from .errors import (AssumptionError, DerivationError, DomainError, MatdiffError, ParseError,
                     ShapeError, ShapeSpecError, UnknownFunctionError, VerificationError)
from .expr import Call, Const, Expr, Symbol
from .reader import Reading, parse, read
from .shapes import Shape

__all__ = ["parse", "read", "derive", "Derivation", "check_gradient", "check_program", "Expr", "Symbol", "Const", "Call", "Shape",
           "Reading", "MatdiffError", "ParseError", "UnknownFunctionError", "ShapeError",
           "ShapeSpecError", "AssumptionError", "DerivationError", "DomainError", "VerificationError"]
__version__ = "0.1.0"


def __getattr__(name):
    # the derivation engine loads numpy-free, but lazily: `matdiff shapes` needs only the parser
    if name in ("derive", "Derivation"):
        from . import derivation
        return getattr(derivation, name)
    if name in ("check_gradient", "check_program"):
        from . import check
        return getattr(check, name)
    raise AttributeError(f"module 'matdiff' has no attribute {name!r}")
