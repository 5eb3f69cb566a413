"""The plain evaluator: the value of an expression from each op's own numeric definition
(`Op.numeric`, declared with the op), node by node, with no rewriting. It is the reference that
verification and gradient checking compare against, so it shares no code with the simplifier
or the NumPy emitter: every value is a 2-D float array of exactly its node's shape (a scalar is
1×1, a column n×1), and each node's value is checked against that shape."""

from __future__ import annotations

from .errors import ShapeError
from .expr import Const, Expr, Symbol


class Evaluation:
    """What a numeric definition may use: `np`, and `size(d)`, the number a dim stands for
    (an int, a name bound by the inputs, or a product of them such as m·n)."""

    def __init__(self, sizes: dict):
        import numpy as np
        self.np = np
        self.sizes = sizes

    def size(self, d) -> int:
        if isinstance(d, int):
            return d
        total = 1
        for f in str(d).split("·"):
            if f.isdigit():
                total *= int(f)
            elif f in self.sizes:
                total *= self.sizes[f]
            else:
                raise ShapeError(f"the size {f} is not bound by any input")
        return total

    def shape(self, e: Expr) -> tuple[int, int]:
        return self.size(e.shape.rows), self.size(e.shape.cols)


def bind_sizes(symbols, values: dict) -> dict:
    """The number each symbolic dim stands for, read off the input arrays (vectors may be 1-D,
    as the emitted code takes them, or n×1 / 1×n)."""
    import numpy as np
    sizes: dict = {}
    for s in symbols:
        if s.name not in values:
            raise ShapeError(f"no value given for {s.name}")
        a = np.asarray(values[s.name])
        rows, cols = s.shape
        if a.ndim == 2:
            got = {rows: a.shape[0], cols: a.shape[1]} if rows != cols else {rows: a.shape[0]}
            if rows == cols and a.shape[0] != a.shape[1]:
                raise ShapeError(f"{s.name} is square ({s.shape}), got an array of shape {a.shape}")
        elif a.ndim == 1:
            got = {rows: a.shape[0]} if cols == 1 else {cols: a.shape[0]}
        else:
            got = {}
        for d, n in got.items():
            if isinstance(d, int):
                if d != n:
                    raise ShapeError(f"{s.name} should have {d} where its array has {n}")
            elif sizes.setdefault(d, n) != n:
                raise ShapeError(f"{s.name} has {d} = {n}, but {d} = {sizes[d]} from another input")
    return sizes


def evaluate_all(exprs: list[Expr], values: dict, sizes: dict | None = None) -> list:
    """The values of several expressions at one point (shared nodes once), as 2-D arrays.
    `values` maps symbol names to arrays (runtime or 2-D form)."""
    memo = _node_values(exprs, values, sizes)
    return [memo[id(e)] for e in exprs]


def _node_values(exprs: list[Expr], values: dict, sizes: dict | None) -> dict:
    """id(node) → value for every node of `exprs`."""
    import numpy as np
    symbols = {}
    for e in exprs:
        symbols.update(e.symbols())
    if sizes is None:
        sizes = bind_sizes(symbols.values(), values)
    ev = Evaluation(sizes)
    memo: dict[int, object] = {}
    with np.errstate(all="ignore"):
        for e in exprs:
            for node in e.walk():
                if id(node) in memo:
                    continue
                want = ev.shape(node)
                if isinstance(node, Symbol):
                    v = np.asarray(values[node.name], dtype=float).reshape(want)
                elif isinstance(node, Const):
                    v = np.full((1, 1), float(node.value))
                else:
                    numeric = node.op.numeric
                    if numeric is None:
                        raise ShapeError(f"{node.op.name} has no numeric definition")
                    v = np.asarray(numeric(ev, node, *(memo[id(a)] for a in node.args)), dtype=float)
                    if v.shape != want:
                        raise ShapeError(f"internal: {node.op.name} gave a value of shape {v.shape} "
                                         f"where {node} is {want[0]}×{want[1]}")
                memo[id(node)] = v
    return memo


def evaluate(expr: Expr, values: dict, sizes: dict | None = None):
    """The value of `expr` in the runtime form of the emitted code: a float for a scalar, a
    1-D array for a vector, a 2-D array for a matrix."""
    (v,) = evaluate_all([expr], values, sizes)
    return runtime_form(v, expr)


def runtime_form(v, expr: Expr):
    if expr.shape.is_scalar:
        return float(v[0, 0])
    if expr.shape.is_vector or expr.shape.is_row:
        return v.reshape(-1)
    return v


def magnitude(expr: Expr, values: dict, sizes: dict | None = None) -> float:
    """The largest finite magnitude among the values of all of `expr`'s nodes at a point: the
    scale of the rounding in its value (a − b with a ≈ b is known only to ε·|a|)."""
    import numpy as np
    top = 0.0
    for v in _node_values([expr], values, sizes).values():
        finite = np.abs(v[np.isfinite(v)])
        if finite.size:
            top = max(top, float(np.max(finite)))
    return top


def reference(expr: Expr, symbols, name_of=lambda n: n):
    """f(**arrays) → the value of `expr` as read, keyed like the emitted functions
    (`name_of(symbol name)` is the keyword; a size no input has comes as a number by its name)."""
    symbols = list(symbols)
    keys = {name_of(s.name): s.name for s in symbols}

    def f(**arrays):
        values = {keys[k]: v for k, v in arrays.items() if k in keys}
        sizes = bind_sizes(symbols, values)
        sizes.update({k: v for k, v in arrays.items() if k not in keys})   # sizes no input has
        return evaluate(expr, values, sizes)
    return f
