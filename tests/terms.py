"""Random expressions for the differential tests, as terms that carry their text in both
notations (NumPy: `x.T @ A @ x`, `norm(W @ x - z) ** 2`; paper: `xᵀAx`, `‖W x − z‖²`), their
(rows, cols) and their own NumPy value, a reading independent of matdiff's. The strategies keep
log, sqrt, fractional powers and divisors on positive terms and inv, det and logdet on SPD ones,
and spread scalars over sums and quotients (x + a, 1 − y ⊙ log p, a / p, tr(A + c))."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

N, M, K = "n", "m", "k"
SIZES = {N: 3, M: 4, K: 5}          # distinct, so that a missing transpose cannot hide
SHAPES = {"A": (N, N), "B": (N, N), "D": (N, N), "S": (N, N), "R": (M, M), "W": (M, N), "C": (N, M), "X": (N, K),
          "x": (N,), "y": (N,), "p": (N,), "z": (M,), "q": (M,), "u": (K,), "a": (), "b": (), "c": ()}
ASSUME = {"B": "symmetric", "D": "diagonal", "S": "spd", "R": "spd", "p": "positive", "q": "positive", "c": "positive"}

# (rows, cols) of each symbol: a vector is a column, a scalar 1×1
SYMBOLS = {name: (tuple(s) + (1, 1))[:2] for name, s in SHAPES.items()}
POSITIVE = {name for name, prop in ASSUME.items() if prop == "positive"}
SPD = {name for name, prop in ASSUME.items() if prop == "spd"}


# binding strength of a term's outermost operator: Python's for NumPy text; on paper a unary minus
# binds like a sum (−x + y, a − (−x)), and products of different kinds are always bracketed
SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Term:
    """An expression in both notations, with its (rows, cols) and its value computed here:
    `value(env)` maps symbol names to 2-D arrays (columns n×1, scalars 1×1)."""

    np: str
    paper: str
    shape: tuple
    value: Callable = field(compare=False, repr=False)
    np_prec: int = ATOM
    paper_prec: int = ATOM
    kind: str = ""

    def __repr__(self) -> str:
        return f"Term({self.np!r} | {self.paper!r})"


def _br(text: str, prec: int, need: int) -> str:
    return text if prec >= need else f"({text})"


def symbol(name: str) -> Term:
    return Term(name, name, SYMBOLS[name], lambda env: env[name])


def number(text: str) -> Term:
    v = float(text)
    return Term(text, text, (1, 1), lambda env: np.full((1, 1), v))


def add(l: Term, r: Term, minus: bool = False) -> Term:
    """l ± r; either side may be a scalar, spread over the other (x + a, 1 − y ⊙ log p)."""
    shape = l.shape if l.shape != (1, 1) else r.shape
    f = (lambda env: l.value(env) - r.value(env)) if minus else (lambda env: l.value(env) + r.value(env))
    paper_r = _br(r.paper, r.paper_prec, PRODUCT)
    return Term(f"{_br(l.np, l.np_prec, SUM)} {'-' if minus else '+'} {_br(r.np, r.np_prec, PRODUCT)}",
                f"{_br(l.paper, l.paper_prec, SUM)} {'−' if minus else '+'} {paper_r}", shape, f, SUM, SUM, "sum")


def neg(t: Term) -> Term:
    np_text = _br(t.np, t.np_prec, UNARY)
    return Term(f"-{np_text}" if not np_text.startswith("-") else f"-({np_text})",
                f"−{_br(t.paper, t.paper_prec, PRODUCT)}", t.shape, lambda env: -t.value(env),
                UNARY, SUM, "neg")


def _product(l: Term, r: Term, np_op: str, paper_op: str, kind: str, shape, f, chain: bool = True) -> Term:
    """A product-level binary term. NumPy text follows Python's precedence exactly; on paper
    the left operand keeps no brackets only in a chain of the same kind."""
    left_need = PRODUCT if chain and l.kind == kind else POWER
    paper = f"{_br(l.paper, l.paper_prec, left_need)}{paper_op}{_br(r.paper, r.paper_prec, POWER)}"
    return Term(f"{_br(l.np, l.np_prec, PRODUCT)} {np_op} {_br(r.np, r.np_prec, UNARY)}", paper,
                shape, f, PRODUCT, PRODUCT, kind)


def hadamard(l: Term, r: Term) -> Term:
    return _product(l, r, "*", " ⊙ ", "hadamard", l.shape, lambda env: l.value(env) * r.value(env))


def divide(l: Term, r: Term) -> Term:
    """l / r elementwise; either side may be a scalar."""
    shape = l.shape if l.shape != (1, 1) else r.shape
    return _product(l, r, "/", " / ", "div", shape, lambda env: l.value(env) / r.value(env), chain=False)


def scale(s: Term, t: Term, scalar_first: bool) -> Term:
    """A scalar times a term: s * t or t * s in NumPy, juxtaposed on paper (2x, (xᵀy) A)."""
    f = lambda env: s.value(env) * t.value(env)  # noqa: E731
    joint = " · " if re.fullmatch(r"[\d.]+", s.paper) and re.fullmatch(r"[\d.]+", t.paper) else " "
    l, r = (s, t) if scalar_first else (t, s)
    return _product(l, r, "*", joint, "scale", t.shape if s.shape == (1, 1) else s.shape, f)


def matmul(l: Term, r: Term, tight: bool = False) -> Term:
    """l @ r; juxtaposed on paper, without a space between one-letter factors when `tight` (xᵀAx)."""
    f = lambda env: l.value(env) @ r.value(env)  # noqa: E731
    joint = "" if tight and re.fullmatch(r"([A-Za-z]ᵀ?)+", l.paper) and re.fullmatch(r"[A-Za-z]ᵀ?", r.paper) \
        and len(re.sub("ᵀ", "", l.paper)) < 3 else " "
    return _product(l, r, "@", joint, "matmul", (l.shape[0], r.shape[1]), f)


def transpose(t: Term) -> Term:
    return Term(f"{_br(t.np, t.np_prec, ATOM)}.T", f"{_br(t.paper, t.paper_prec, ATOM)}ᵀ",
                (t.shape[1], t.shape[0]), lambda env: t.value(env).T, ATOM, POWER, "transpose")


def inverse(t: Term, style: int) -> Term:
    """inv(t) as X⁻¹, as inv(X), or its transpose as X⁻ᵀ."""
    f = lambda env: np.linalg.inv(t.value(env))  # noqa: E731
    base = _br(t.paper, t.paper_prec, ATOM)
    if style == 0:
        return Term(f"inv({t.np})", f"{base}⁻¹", t.shape, f, ATOM, POWER, "inv")
    if style == 1:
        return Term(f"np.linalg.inv({t.np})", f"inv({t.paper})", t.shape, f)
    return Term(f"inv({t.np}).T", f"{base}⁻ᵀ", t.shape, lambda env: f(env).T, ATOM, POWER, "inv")


def square(t: Term) -> Term:
    """t @ t of a square matrix: X² on paper."""
    return Term(f"{_br(t.np, t.np_prec, PRODUCT)} @ {_br(t.np, t.np_prec, UNARY)}",
                f"{_br(t.paper, t.paper_prec, ATOM)}²", t.shape, lambda env: t.value(env) @ t.value(env),
                PRODUCT, POWER, "power")


def dot(l: Term, r: Term) -> Term:
    """The inner product of two columns: l.T @ r, l·r on paper."""
    return Term(f"{_br(l.np, l.np_prec, ATOM)}.T @ {_br(r.np, r.np_prec, UNARY)}",
                f"{_br(l.paper, l.paper_prec, ATOM)}·{_br(r.paper, r.paper_prec, ATOM)}", (1, 1),
                lambda env: l.value(env).T @ r.value(env), PRODUCT, PRODUCT, "dot")


SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def power(t: Term, k: str) -> Term:
    """t ** k elementwise (k an integer, or fractional for a positive t)."""
    e = float(k)
    f = lambda env: np.power(t.value(env), e)  # noqa: E731
    base = _br(t.paper, t.paper_prec, ATOM)
    integer = re.fullmatch(r"-?\d", k)
    if t.shape == (1, 1):
        paper = base + (k.translate(SUPERSCRIPT) if integer else f"^({k})")
    else:
        paper = base + (f"⊙{k.translate(SUPERSCRIPT)}" if integer else f"^⊙({k})")
    return Term(f"{_br(t.np, t.np_prec, ATOM)} ** {k}", paper, t.shape, f, POWER, POWER, "power")


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _logsumexp(v):
    top = np.max(v)
    return np.full((1, 1), top + np.log(np.sum(np.exp(v - top))))


def _logdet(v):
    sign, logabs = np.linalg.slogdet(v)
    return np.full((1, 1), logabs if sign > 0 else np.nan)


# name → (NumPy spellings, paper spellings, value of the 2-D argument)
ELEMENTWISE = {
    "exp": (("exp", "np.exp"), ("exp", "e^"), np.exp),
    "log": (("log", "np.log"), ("log",), np.log),
    "sqrt": (("sqrt", "np.sqrt"), ("sqrt",), np.sqrt),
    "tanh": (("tanh", "np.tanh"), ("tanh",), np.tanh),
    "sin": (("sin",), ("sin",), np.sin),
    "cos": (("np.cos",), ("cos",), np.cos),
    "sigmoid": (("sigmoid", "expit"), ("σ", "sigmoid"), _sigmoid),
    "softplus": (("softplus",), ("softplus",), lambda v: np.logaddexp(0, v)),
    "relu": (("relu",), ("relu",), lambda v: np.maximum(v, 0.0)),
    "abs": (("abs", "np.abs"), ("abs",), np.abs),
}
REDUCTIONS = {
    "sum": (("sum", "np.sum"), ("sum", "Σ"), lambda v: np.full((1, 1), np.sum(v))),
    "trace": (("trace", "np.trace"), ("tr",), lambda v: np.full((1, 1), np.trace(v))),
    "logsumexp": (("logsumexp",), ("logsumexp",), _logsumexp),
    "det": (("det", "np.linalg.det"), ("det",), lambda v: np.full((1, 1), np.linalg.det(v))),
    "softmax": (("softmax",), ("softmax",), lambda v: np.exp(v - _logsumexp(v))),
    "diag": (("diag",), ("diag",), lambda v: np.diag(v[:, 0]) if v.shape[1] == 1 else np.diag(v)[:, None]),
}
SMOOTH = ("tanh", "sigmoid", "sin", "cos", "softplus")
BOUNDED = ("tanh", "sigmoid", "sin", "cos")


def apply(name: str, t: Term, spelling: int = 0) -> Term:
    """A function of t, in one of its spellings. On paper e^(t) is a power: a postfix after it
    would belong to the exponent (e^(u)² is e^(u²)), so it is bracketed under one."""
    table = ELEMENTWISE if name in ELEMENTWISE else REDUCTIONS
    np_names, paper_names, fn = table[name]
    if name in ELEMENTWISE or name == "softmax":
        shape = t.shape
    elif name == "diag":
        shape = (t.shape[0], t.shape[0]) if t.shape[1] == 1 else (t.shape[0], 1)
    else:
        shape = (1, 1)
    paper_name = paper_names[spelling % len(paper_names)]
    return Term(f"{np_names[spelling % len(np_names)]}({t.np})", f"{paper_name}({t.paper})", shape,
                lambda env: fn(t.value(env)), ATOM, POWER if paper_name == "e^" else ATOM)


def norm(t: Term, squared: bool, bars: bool) -> Term:
    """‖t‖ (Frobenius for a matrix), or its square."""
    f = lambda env: np.full((1, 1), math.sqrt(np.sum(t.value(env) ** 2)) ** (2 if squared else 1))  # noqa: E731
    matrix = t.shape[0] != 1 and t.shape[1] != 1
    if bars and "‖" not in t.paper:
        # ‖x‖² is a power: a power of it needs brackets ((‖x‖²)⁰, not ‖x‖²⁰, which is ‖x‖²⁰)
        paper = "‖" + t.paper + "‖" + ("²" if squared else "") + ("_F" if matrix else "")
        paper_prec = POWER if squared else ATOM
    else:
        paper, paper_prec = f"norm({t.paper})" + ("²" if squared else ""), ATOM if not squared else POWER
    return Term(f"norm({t.np})" + (" ** 2" if squared else ""), paper, (1, 1), f,
                POWER if squared else ATOM, paper_prec, "power" if squared else "")


def logdet(t: Term, spelling: int) -> Term:
    f = lambda env: _logdet(t.value(env))  # noqa: E731
    if spelling == 0:   # log det X takes every factor on its right: it is bracketed in any product
        return Term(f"logdet({t.np})", f"log det({t.paper})", (1, 1), f, ATOM, PRODUCT, "logdet")
    return Term(f"np.log(np.linalg.det({t.np}))", f"log(det({t.paper}))", (1, 1), f)


def kron(l: Term, r: Term) -> Term:
    shape = tuple(d if e == 1 else e if d == 1 else f"{d}·{e}" for d, e in zip(l.shape, r.shape))
    return Term(f"kron({l.np}, {r.np})", f"{_br(l.paper, l.paper_prec, POWER)} ⊗ {_br(r.paper, r.paper_prec, POWER)}",
                shape, lambda env: np.kron(l.value(env), r.value(env)), ATOM, PRODUCT, "kron")


def ones(d: str) -> Term:
    return Term(f"ones({d})", "𝟙", (d, 1), lambda env: np.ones((SIZES[d], 1)))


def eye(d: str) -> Term:
    return Term(f"eye({d})", "I", (d, d), lambda env: np.eye(SIZES[d]))


NUMBERS = ("2", "3", "0.5", "1", "1.5")
DIMS = (N, M, K)
MAX_DEPTH = 5


def _symbols_of(shape) -> list[str]:
    return [name for name, s in SYMBOLS.items() if s == shape]


@st.composite
def leaf(draw, shape) -> Term:
    """A symbol of the shape, a transposed symbol, a number for a scalar; the shortest product
    for a shape no symbol has (m×k is W @ X)."""
    rows, cols = shape
    options = [symbol(s) for s in _symbols_of(shape)]
    if shape != (1, 1):
        options += [transpose(symbol(s)) for s in _symbols_of((cols, rows))]
    if shape == (1, 1):
        options += [number(v) for v in NUMBERS]
    if options:
        return draw(st.sampled_from(options))
    if rows == 1:
        return transpose(draw(leaf((cols, 1))))
    return matmul(draw(leaf((rows, N))), draw(leaf((N, cols))))   # every such shape is one through n


@st.composite
def bounded(draw, shape, depth: int) -> Term:
    """A term whose value is of order 1 (the argument of exp): a symbol, or a bounded function."""
    if depth >= MAX_DEPTH - 1 or draw(st.booleans()):
        return draw(leaf(shape))
    return apply(draw(st.sampled_from(BOUNDED)), draw(term(shape, depth + 1)), draw(st.integers(0, 1)))


@st.composite
def positive(draw, shape, depth: int) -> Term:
    """A term positive (and not near 0) everywhere: for log, sqrt, fractional powers, divisors."""
    rows, cols = shape
    own = [symbol(s) for s in _symbols_of(shape) if s in POSITIVE]
    if own and (depth >= MAX_DEPTH - 1 or draw(st.integers(0, 2)) == 0):
        return draw(st.sampled_from(own))
    if shape == (1, 1) and draw(st.integers(0, 3)) == 0:
        return number(draw(st.sampled_from(NUMBERS)))
    forms = ["exp", "square+1", "sigmoid+", "softplus+1", "1+exp"]
    if depth < MAX_DEPTH - 1:
        forms += ["sum", "product", "sqrt"]
    if shape == (1, 1) and depth < MAX_DEPTH - 1:
        forms += ["norm2+1", "det", "trace_spd"]
    if cols == 1 and rows != 1:
        forms += ["softmax"]
    form = draw(st.sampled_from(forms))
    deeper = lambda s=shape: positive(s, depth + 1)  # noqa: E731
    if form == "exp":
        return apply("exp", draw(bounded(shape, depth + 1)), draw(st.integers(0, 1)))
    if form == "square+1":
        return add(power(draw(term(shape, depth + 1)), "2"), number("1"))
    if form == "sigmoid+":
        return add(apply("sigmoid", draw(term(shape, depth + 1))), number("0.5"))
    if form == "softplus+1":
        return add(apply("softplus", draw(term(shape, depth + 1))), number("1"))
    if form == "1+exp":
        return add(number("1"), apply("exp", draw(bounded(shape, depth + 1))))
    if form == "sum":
        return add(draw(deeper()), draw(deeper()))
    if form == "product":
        l, r = draw(deeper()), draw(deeper())
        return hadamard(l, r) if shape != (1, 1) else scale(l, r, True)
    if form == "sqrt":
        return apply("sqrt", draw(deeper()), draw(st.integers(0, 1)))
    if form == "norm2+1":
        return add(norm(draw(term(draw(st.sampled_from([(N, 1), (M, N)])), depth + 1)), True, draw(st.booleans())),
                   number("1"))
    if form == "det":
        return apply("det", draw(spd(N, depth + 1)), draw(st.integers(0, 1)))
    if form == "trace_spd":
        return apply("trace", draw(spd(draw(st.sampled_from([N, M])), depth + 1)), draw(st.integers(0, 1)))
    return apply("softmax", draw(bounded(shape, depth + 1)))


@st.composite
def spd(draw, d: str, depth: int) -> Term:
    """A symmetric positive definite d×d term: S, R, M Mᵀ + I, S + c I, diag of a positive vector,
    the inverse of one, a sum of two."""
    own = [symbol(s) for s in _symbols_of((d, d)) if s in SPD]
    if depth >= MAX_DEPTH - 1 or (own and draw(st.integers(0, 2)) == 0):
        if own:
            return draw(st.sampled_from(own))
        inner = draw(leaf((N, d)))
        return add(matmul(transpose(inner), inner), eye(d))
    form = draw(st.sampled_from(["gram", "gram", "shift", "diag", "inv", "sum"]))
    if form == "gram":
        m = draw(term((d, draw(st.sampled_from([N, M, K, 1]))), depth + 1))
        return add(matmul(m, transpose(m)), eye(d))
    if form == "shift":
        return add(draw(spd(d, depth + 1)), scale(draw(positive((1, 1), depth + 1)), eye(d), True))
    if form == "diag":
        return apply("diag", draw(positive((d, 1), depth + 1)))
    if form == "inv":
        return inverse(draw(spd(d, depth + 1)), draw(st.integers(0, 2)))
    return add(draw(spd(d, depth + 1)), draw(spd(d, depth + 1)))


@st.composite
def scalar(draw, depth: int) -> Term:
    """A scalar made by a reduction, a quadratic or inner product, a determinant."""
    kind = draw(st.sampled_from(["sum", "sum", "trace", "norm", "logsumexp", "det", "logdet", "quad",
                                 "inner", "ones_inner", "kron"]))
    sub = lambda s: term(s, depth + 1)  # noqa: E731
    shape = draw(st.sampled_from([(N, 1), (M, 1), (N, N), (M, N), (N, K)]))
    if kind == "sum":
        return apply("sum", draw(sub(shape)), draw(st.integers(0, 1)))
    if kind == "trace":
        d = draw(st.sampled_from(DIMS))
        return apply("trace", draw(sub((d, d))), draw(st.integers(0, 1)))
    if kind == "norm":
        return norm(draw(sub(shape)), draw(st.booleans()), draw(st.booleans()))
    if kind == "logsumexp":
        return apply("logsumexp", draw(sub(shape)))
    if kind == "det":
        return apply("det", draw(spd(draw(st.sampled_from([N, M])), depth + 1)), draw(st.integers(0, 1)))
    if kind == "logdet":
        return logdet(draw(spd(draw(st.sampled_from([N, M, K])), depth + 1)), draw(st.integers(0, 1)))
    if kind == "quad":       # uᵀ M v, M possibly an inverse
        d = draw(st.sampled_from([N, M]))
        mid = draw(st.one_of(sub((d, d)), spd(d, depth + 1).map(lambda s: inverse(s, 0))))
        return matmul(matmul(transpose(draw(sub((d, 1)))), mid, draw(st.booleans())), draw(sub((d, 1))),
                      draw(st.booleans()))
    if kind == "inner":
        d = draw(st.sampled_from(DIMS))
        if draw(st.booleans()):
            return dot(draw(sub((d, 1))), draw(sub((d, 1))))
        return matmul(transpose(draw(sub((d, 1)))), draw(sub((d, 1))), draw(st.booleans()))
    if kind == "ones_inner":   # 𝟙ᵀx = sum(x)
        return matmul(transpose(ones(N)), draw(sub((N, 1))))
    if draw(st.booleans()):   # tr(A ⊗ B) over an nm × nm product
        return apply("trace", kron(draw(sub((N, N))), draw(sub((M, M)))), draw(st.integers(0, 1)))
    return apply("sum", kron(draw(sub(draw(st.sampled_from([(N, 1), (N, N), (1, 1)])))), draw(sub((M, 1)))))


@st.composite
def term(draw, shape, depth: int = 0) -> Term:
    """A term of the given (rows, cols)."""
    rows, cols = shape
    if depth >= MAX_DEPTH or draw(st.integers(0, 4)) < (depth + 1) // 2:
        return draw(leaf(shape))
    sub = lambda s: term(s, depth + 1)  # noqa: E731
    if rows == 1 and cols != 1:     # a row: a transposed column, or a row times a matrix
        if draw(st.integers(0, 2)) == 0:
            d = draw(st.sampled_from(DIMS))
            return matmul(draw(sub((1, d))), draw(sub((d, cols))), draw(st.booleans()))
        return transpose(draw(sub((cols, 1))))
    kinds = ["add", "sub", "broadcast", "hadamard", "scale", "divide", "matmul", "matmul", "transpose",
             "neg", "smooth", "exp", "log", "sqrt", "kinked", "power", "fraction"]
    if cols == 1 and rows != 1:
        kinds += ["softmax", "diagonal", "ones"]
    if rows == cols and rows != 1:
        kinds += ["inv", "diag", "eye", "outer", "square"]
    if rows != 1 and cols != 1:
        kinds += ["kron"]
    if shape == (1, 1):
        kinds += ["reduce"] * 6
    kind = draw(st.sampled_from(kinds))
    if kind in ("add", "sub"):
        return add(draw(sub(shape)), draw(sub(shape)), kind == "sub")
    if kind == "broadcast":    # x + a, a − x, x − 1
        s, t = draw(sub((1, 1))), draw(sub(shape))
        return add(*((s, t) if draw(st.booleans()) else (t, s)), minus=draw(st.booleans()))
    if kind == "hadamard":
        return hadamard(draw(sub(shape)), draw(sub(shape)))
    if kind == "scale":
        return scale(draw(sub((1, 1))), draw(sub(shape)), draw(st.booleans()))
    if kind == "divide":       # x / p, x / c, a / p
        how = draw(st.sampled_from(["same", "scalar", "over"]))
        if how == "same":
            return divide(draw(sub(shape)), draw(positive(shape, depth + 1)))
        if how == "scalar":
            return divide(draw(sub(shape)), draw(positive((1, 1), depth + 1)))
        return divide(draw(sub((1, 1))), draw(positive(shape, depth + 1)))
    if kind == "matmul":
        inner = draw(st.sampled_from(DIMS))
        return matmul(draw(sub((rows, inner))), draw(sub((inner, cols))), draw(st.booleans()))
    if kind == "outer":
        return matmul(draw(sub((rows, 1))), draw(sub((1, cols))), draw(st.booleans()))
    if kind == "transpose":
        return transpose(draw(sub((cols, rows)))) if shape != (1, 1) else draw(sub(shape))
    if kind == "neg":
        return neg(draw(sub(shape)))
    if kind == "smooth":
        return apply(draw(st.sampled_from(SMOOTH)), draw(sub(shape)), draw(st.integers(0, 1)))
    if kind == "exp":
        return apply("exp", draw(bounded(shape, depth + 1)), draw(st.integers(0, 1)))
    if kind in ("log", "sqrt"):
        return apply(kind, draw(positive(shape, depth + 1)), draw(st.integers(0, 1)))
    if kind == "kinked":
        return apply(draw(st.sampled_from(["relu", "abs"])), draw(sub(shape)), draw(st.integers(0, 1)))
    if kind == "power":
        return power(draw(sub(shape)), draw(st.sampled_from(["2", "3", "0", "1"])))
    if kind == "fraction":
        return power(draw(positive(shape, depth + 1)), draw(st.sampled_from(["0.5", "1.5", "-1", "-2", "-0.5"])))
    if kind == "softmax":
        return apply("softmax", draw(sub(shape)))
    if kind == "diagonal":
        return apply("diag", draw(sub((rows, rows))))
    if kind == "ones":         # x + 𝟙, 𝟙 − x
        t = draw(sub(shape))
        return add(*((ones(rows), t) if draw(st.booleans()) else (t, ones(rows))), minus=draw(st.booleans()))
    if kind == "inv":
        return inverse(draw(spd(rows, depth + 1)), draw(st.integers(0, 2)))
    if kind == "diag":
        return apply("diag", draw(sub((rows, 1))))
    if kind == "square":
        return square(draw(sub(shape)))
    if kind == "eye":
        t = draw(sub(shape))
        return add(*((t, eye(rows)) if draw(st.booleans()) else (eye(rows), t)), minus=draw(st.booleans()))
    if kind == "kron":         # x ⊗ yᵀ, a ⊗ X, X ⊗ a: shapes without products of dims
        if draw(st.booleans()):
            return kron(draw(sub((rows, 1))), draw(sub((1, cols))))
        pair = [draw(sub(shape)), draw(sub((1, 1)))]
        return kron(*(pair if draw(st.booleans()) else pair[::-1]))
    return draw(scalar(depth))


@dataclass(frozen=True)
class Case:
    """One differential run: a term, the notation its text is read in, and the variable."""

    term: Term
    paper: bool
    wrt: str

    @property
    def text(self) -> str:
        return self.term.paper if self.paper else self.term.np


OUTPUTS = [(1, 1)] * 5 + [(N, 1), (M, 1), (N, N), (M, N), (1, N), (K, K)]


@st.composite
def cases(draw, outputs=OUTPUTS) -> Case:
    """A term of one of `outputs`' shapes (scalars most often), a notation, and one of its symbols."""
    t = draw(term(draw(st.sampled_from(outputs))))
    names = sorted(set(re.findall(r"(?<![A-Za-z_.])[A-Za-z](?![A-Za-z_(])", t.np)) & set(SHAPES))
    assume(names)
    return Case(t, draw(st.booleans()), draw(st.sampled_from(names)))
