"""matdiff: symbolic matrix calculus. Read a matrix expression in NumPy or paper notation,
check its dimensions, derive DF|X[V], gradients and friends in textbook form, and emit
NumPy code verified against finite differences.

Bad input raises a MatdiffError subclass (the position, the shapes, a likely fix), nothing
else. Stated limits, each a module attribute that may be raised, each named by the error past
it: matdiff.syntax.MAX_LENGTH (50 000 characters in an expression), matdiff.syntax.MAX_DEPTH
(256 levels of nested operations), matdiff.reader.MAX_INT_DIGITS (18 digits in an exponent or
a size), matdiff.reader.MAX_MATRIX_POWER (Xᵏ for |k| ≤ 64), matdiff.programs.MAX_PROGRAM_LINES
(5000 assignments) and MAX_PROGRAM_LENGTH (1 000 000 characters) for check_program."""

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
