"""Dimensions and shapes. A dim is an int or a symbolic name (`"n"`); a Shape is (rows, cols):
a column vector is n×1 and a scalar 1×1. While an expression is read, undeclared dims are
inference variables (DimVar) unified through the expression, then given names n, m, k, …."""

from __future__ import annotations

import contextvars
import re
from typing import Callable, NamedTuple, Union

from .errors import ShapeSpecError

Dim = Union[int, str, "DimVar"]


class DimVar:
    """An unknown dim, to be unified; identity is the object itself. Printed, it takes the name
    the reader would give it (n, m, …); the label (n_x: the length of x; r_A, c_A) is for
    debugging and for contexts without a reader."""

    __slots__ = ("label",)

    def __init__(self, label: str = "d") -> None:
        self.label = label

    def __repr__(self) -> str:
        return DIMS.get().name(self)

    __str__ = __repr__


class Shape(NamedTuple):
    rows: Dim
    cols: Dim

    @property
    def is_scalar(self) -> bool:
        return self.rows == 1 and self.cols == 1

    @property
    def is_vector(self) -> bool:
        """A column vector (n×1, n not 1)."""
        return self.cols == 1 and self.rows != 1

    @property
    def is_row(self) -> bool:
        return self.rows == 1 and self.cols != 1

    @property
    def is_square(self) -> bool:
        return self.rows == self.cols

    @property
    def T(self) -> "Shape":
        return Shape(self.cols, self.rows)

    def numpy(self) -> tuple:
        """The runtime NumPy shape: () for a scalar, (n,) for a column or a row vector."""
        if self.is_scalar:
            return ()
        if self.is_vector:
            return (self.rows,)
        if self.is_row:
            return (self.cols,)
        return (self.rows, self.cols)

    def __str__(self) -> str:
        if self.is_scalar:
            return "scalar"
        compound = "·" in str(self.rows) or "·" in str(self.cols)
        return f"{self.rows} × {self.cols}" if compound else f"{self.rows}×{self.cols}"

    def spec(self) -> str:
        """The form `--shape` accepts: `n,m`, `n` for a vector, `` for a scalar."""
        dims = () if self.is_scalar else (self.rows,) if self.is_vector else self
        return ",".join(str(d) for d in dims)


SCALAR = Shape(1, 1)

_DIM_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_SPLIT_RE = re.compile(r"\s*(?:,|×|\bx\b|\*)\s*")


def parse_dim(d, where: str = "") -> int | str:
    if isinstance(d, bool):
        raise ShapeSpecError(f"bad dimension {d!r}{where}", hint="use a positive int or a name like n")
    if isinstance(d, int):
        if d < 1:
            raise ShapeSpecError(f"bad dimension {d}{where}: dims must be positive",
                                 hint="use a positive int or a name like n")
        return d
    if isinstance(d, str):
        d = d.strip()
        if d.isascii() and d.isdigit():   # "²" and "٣" are digits to str.isdigit, not to int()
            if len(d) > 18:
                raise ShapeSpecError(f"dimension {d[:20]}…{where} has {len(d)} digits, more than 18",
                                     hint="use a positive int below 10¹⁸ or a name like n")
            return parse_dim(int(d), where)
        if _DIM_RE.fullmatch(d):
            return d
    raise ShapeSpecError(f"bad dimension {d!r}{where}", hint="use a positive int or a name like n")


def parse_shape(spec, name: str = "") -> Shape:
    """Read a declared shape: `("n","m")`, `(3,4)`, `"n,m"`, `"n x m"`, `"n×m"`, `()` or `""`
    for a scalar, `("n",)` or `"n"` for a column vector, or a Shape."""
    where = f" in the shape of {name}" if name else ""
    if isinstance(spec, Shape):
        return Shape(parse_dim(spec.rows, where), parse_dim(spec.cols, where))
    if isinstance(spec, str):
        s = spec.strip().strip("()[]").strip()
        parts = [] if s in ("", "scalar") else _SPLIT_RE.split(s)
        if any(p == "" for p in parts):
            raise ShapeSpecError(f"cannot read shape {spec!r}{where}",
                                 hint="write it like n,m or n×m; n for a vector; () for a scalar")
        spec = tuple(parts)
    if isinstance(spec, int) and not isinstance(spec, bool):
        spec = (spec,)
    if not isinstance(spec, (tuple, list)):
        raise ShapeSpecError(f"cannot read shape {spec!r}{where}",
                             hint="write it like ('n', 'm'), (3, 4), 'n,m'; ('n',) for a vector; () for a scalar")
    if len(spec) == 0:
        return SCALAR
    if len(spec) == 1:
        return Shape(parse_dim(spec[0], where), 1)
    if len(spec) == 2:
        return Shape(parse_dim(spec[0], where), parse_dim(spec[1], where))
    raise ShapeSpecError(f"shape {tuple(spec)!r}{where} has {len(spec)} dims; matdiff handles scalars, vectors and matrices",
                         hint="use at most two dims")


class Unifier:
    """Union-find over dims. Concrete dims (int, name) are roots that never merge with each other.
    An undeclared dim never becomes 1: a vector read by convention stays a vector, so `x @ y`
    is reported (with the fix xᵀy) instead of silently making y a scalar."""

    def __init__(self) -> None:
        self.parent: dict[DimVar, Dim] = {}
        self.products: dict[DimVar, tuple[Dim, Dim]] = {}   # rows of A ⊗ B = rows(A)·rows(B)
        self.namer: Callable[[DimVar], str] | None = None

    def name(self, d: DimVar) -> str:
        if self.namer is not None:
            return self.namer(d)
        r = self.find(d)
        return r.label if type(r) is DimVar else str(r)

    def mul(self, a: Dim, b: Dim) -> Dim:
        """The dim of a product space; while its factors are unknown, a variable that
        remembers them, named from theirs once they are (n·k)."""
        a, b = self.find(a), self.find(b)
        if type(a) is not DimVar and type(b) is not DimVar or a == 1 or b == 1:
            return dim_mul(a, b)
        v = DimVar(f"{getattr(a, 'label', a)}·{getattr(b, 'label', b)}")
        self.products[v] = (a, b)
        return v

    def find(self, d: Dim) -> Dim:
        parent = self.parent
        if type(d) is not DimVar or d not in parent:
            return d
        root = d
        while type(root) is DimVar and root in parent:
            root = parent[root]
        while d is not root and type(d) is DimVar and d in parent:   # path compression
            parent[d], d = root, parent[d]
        return root

    def same(self, a: Dim, b: Dim) -> bool:
        a, b = self.find(a), self.find(b)
        if a is b or (not isinstance(a, DimVar) and a == b):
            return True
        if isinstance(a, DimVar) and isinstance(b, DimVar):
            if b in self.products and a not in self.products:
                a, b = b, a      # a product keeps its factors: n·k rather than a new name
            self.parent[b] = a   # otherwise the dim seen first names the class
            return True
        if isinstance(a, DimVar) and b != 1:
            self.parent[a] = b
            return True
        if isinstance(b, DimVar) and a != 1:
            self.parent[b] = a
            return True
        return False

    def shape(self, s: Shape) -> Shape:
        rows, cols = s
        parent = self.parent
        if rows not in parent and cols not in parent:   # ints and names never are
            return s
        return Shape(self.find(rows), self.find(cols))


class Strict:
    """Dims compare by equality: the context of expressions whose shapes are all known."""

    @staticmethod
    def find(d: Dim) -> Dim:
        return d

    @staticmethod
    def same(a: Dim, b: Dim) -> bool:
        return a == b

    @staticmethod
    def shape(s: Shape) -> Shape:
        return s

    @staticmethod
    def name(d: DimVar) -> str:
        return d.label

    @staticmethod
    def mul(a: Dim, b: Dim) -> Dim:
        return dim_mul(a, b)


STRICT = Strict()

# The dim context in force while nodes are built: STRICT, or the parser's Unifier.
DIMS: contextvars.ContextVar = contextvars.ContextVar("matdiff_dims", default=STRICT)


def may_agree(dims, a: Dim, b: Dim) -> bool:
    """Whether two dims are, or could still be made, equal, without unifying them (for hints):
    an unknown dim can become anything but 1."""
    a, b = dims.find(a), dims.find(b)
    if isinstance(a, DimVar) or isinstance(b, DimVar):
        return 1 not in (a, b)
    return a == b


def dim_mul(a: Dim, b: Dim) -> Dim:
    """The dim of a product space (rows of kron(A, B), length of vec(X)): numbers multiply,
    names join in sorted order (m·n), so equal products compare equal."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if a == 1:
        return b
    if b == 1:
        return a
    factors = sorted(str(a).split("·") + str(b).split("·"), key=lambda f: (not f.isdigit(), f))
    numbers = [int(f) for f in factors if f.isdigit()]
    names = [f for f in factors if not f.isdigit()]
    k = 1
    for v in numbers:
        k *= v
    return "·".join(([str(k)] if k != 1 else []) + names)


def _factors(d) -> tuple[int, list[str]]:
    """A dim as (its number, its named factors): 3·m·n is (3, [m, n])."""
    if isinstance(d, int):
        return d, []
    k, names = 1, []
    for f in str(d).split("·"):
        if f.isdigit():
            k *= int(f)
        else:
            names.append(f)
    return k, names


def dim_div(a: Dim, b: Dim) -> Dim | None:
    """a / b where b divides the product a (the block count of a Kronecker product: (m·p) / p
    = m), or None where it does not (a DimVar divides nothing but itself and 1)."""
    if b == 1:
        return a
    if a == b:
        return 1
    if isinstance(a, DimVar) or isinstance(b, DimVar):
        return None
    (ka, na), (kb, nb) = _factors(a), _factors(b)
    if ka % kb:
        return None
    rest = list(na)
    for f in nb:
        if f not in rest:
            return None
        rest.remove(f)
    k = ka // kb
    if not rest:
        return k
    return "·".join(([str(k)] if k != 1 else []) + sorted(rest))
