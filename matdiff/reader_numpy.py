"""NumPy semantics for the reader: what a NumPy-style text means when its arrays are what NumPy
makes of them. A vector declared `(n,)` is a 1-D array at run time, so in NumPy text

- `@` follows NumPy's rules for 1-D operands: `x @ A` is the row product (Aᵀx), `x @ y` the inner
  product, `A @ x` the matrix-vector product; `.T` of a 1-D array changes nothing;
- elementwise operators broadcast as NumPy does: a 1-D vector spreads over the rows of a matrix
  (`X @ W + b` is XW + 𝟙bᵀ), a 2-D column `(m, 1)` over its columns (c𝟙ᵀ), a 2-D row over its rows;
- reductions and maps take an axis (`Z.sum(axis=0)`, `softmax(Z, axis=1)`, keepdims), and
  constants index and slice (`X[:, j]`, `x[1:3]`, `b[:, None]`).

Every broadcast is an explicit product with 𝟙, so its derivative, transpose (the matching sum)
and matrix come from the ops already there. In the IR every 1-D value is a column; a 2-D column
made by `[:, None]`, `reshape(-1, 1)` or keepdims is remembered by node identity while reading.

A text that transposes a vector (`h.T`, `(W @ x - y).T`) is written with column vectors, as
backprop tutorials write (n, 1) arrays; so is one that declares a vector `(n, 1)`. The reader
reads such a text again with every vector a 2-D column (`x @ y.T` the outer product), and says
so in the reading's `vectors`."""

from __future__ import annotations

from .emit.pretty import closed_group
from .errors import ParseError, ShapeError
from .expr import Call, Const, Expr, ShapeMismatch, Symbol, call, tidy_hint

# elementwise ops whose operands NumPy broadcasts against each other
BROADCASTING = frozenset({"add", "mul", "div", "power", "maximum", "minimum"})
# functions that take axis= (and keepdims=): the reductions, and the maps along an axis
AXIS_FUNCTIONS = frozenset({"sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "norm"})
REDUCTIONS = AXIS_FUNCTIONS - {"softmax", "log_softmax"}
# methods of an array that are the function of the same name applied to it
METHOD_FUNCTIONS = frozenset({"sum", "mean", "max", "min", "dot", "clip", "transpose", "logsumexp"})


def _flip(e: Expr) -> Expr:
    """eᵀ, without a double transpose."""
    return e.args[0] if isinstance(e, Call) and e.op.name == "transpose" else e.T


def _fresh(e: Expr) -> Expr:
    """An equal node that is a distinct object, to carry a reading-time mark of its own (x and
    x[:, None] are equal in the IR and differ in NumPy)."""
    if isinstance(e, Symbol):
        return Symbol(e.name, e.shape, e.props)
    if isinstance(e, Call):
        return Call.remade(e, e.args, e.params, e.shape)
    return Const(e.value)


class NumpyReading:
    """Mixed into the reader's builder (reader._Builder), which sets `numpy_style`, `columns`
    (every vector a 2-D column) and `two_d` (id → node of the 2-D columns made while reading)."""

    # -- what NumPy sees ---------------------------------------------------------------------
    def one_d(self) -> bool:
        """Whether vectors are read as 1-D arrays (NumPy text that keeps them 1-D)."""
        return self.numpy_style and not self.columns

    def kind(self, e: Expr) -> str:
        """"0" a scalar, "1" a 1-D array, "col" a 2-D column, "row" a 2-D row, "2" a matrix."""
        s = self.dims.shape(e.shape)
        if s.is_scalar:
            return "0"
        if s.is_row:
            return "row"
        if s.is_vector:
            return "1" if self.one_d() and id(e) not in self.two_d else "col"
        return "2"

    def mark_2d(self, e: Expr, like=None) -> Expr:
        """`e` (an IR column) as a 2-D column; a fresh node where it is also a 1-D value."""
        if like is not None and e is like or isinstance(e, (Symbol, Const)):
            e = _fresh(e)
        self.two_d[id(e)] = e
        return e

    # -- @ ------------------------------------------------------------------------------------
    def matmul(self, factors: list, span) -> Expr:
        """A run of @: one n-ary product, unless NumPy's 1-D rules enter. With 1-D operands, a 1-D
        vector first is a row, last a column, two side by side the inner product; a 1-D result is
        a column. A scalar factor is a 1×1 matrix, as matdiff prints x @ α (NumPy would refuse it)."""
        kinds = [self.kind(e) for e, _ in factors]
        if "1" not in kinds or "0" in kinds:
            out = self.apply_exprs("matmul", factors, span)
            return self.mark_2d(out) if self.one_d() and kinds[-1] == "col" and self.kind(out) == "1" else out
        start = factors[0][1][0]
        run, state = [], None      # state: "row" (a 1-D value held as a row), "1" (as a column), "2"
        for (e, s), k in zip(factors, kinds):
            if state is None:
                run, state = [(_flip(e), s)] if k == "1" else [(e, s)], "row" if k == "1" else "2"
                continue
            if state == "1":           # a 1-D value so far (A @ x), now on the left: as a row
                end = run[-1][1][1]
                whole = self.apply_exprs("matmul", run, (start, end)) if len(run) > 1 else run[0][0]
                run, state = [(_flip(whole), (start, end))], "row"
            elif state == "0":         # (x @ y) @ …: NumPy's matmul refuses the scalar
                raise ShapeError(f"{self.describe((start, run[-1][1][1]))} is a scalar (an inner product); @ does "
                                 f"not take a scalar operand", text=self.text, span=(start, s[1]),
                                 hint="use * to scale")
            self.inner_dims_agree(run, state, e, k, (start, s[1]))
            run.append((e, s))
            if k == "1":
                state = "0" if state == "row" else "1"
        if state == "row":             # x @ A is 1-D: held as the column Aᵀx
            run = [(_flip(e), s) for e, s in reversed(run)]
        return self.apply_exprs("matmul", run, (start, run[-1][1][1])) if len(run) > 1 else run[0][0]

    def inner_dims_agree(self, run: list, state: str, e: Expr, k: str, span):
        """Before the IR's own check, a misfit said in NumPy's terms, with the fix that fits."""
        inner = self.dims.shape(run[-1][0].shape).cols
        if self.dims.same(inner, self.dims.shape(e.shape).rows):
            return
        left, right = self.describe((span[0], run[-1][1][1])), self.describe((run[-1][1][1], span[1])).lstrip("@ ")
        bare = lambda t: t[1:-1] if closed_group(t) and t.startswith("(") else t   # noqa: E731
        shape = lambda kind, x: f"1-D, length {x.rows}" if kind == "1" else str(x)   # noqa: E731
        ls = self.dims.shape(run[-1][0].shape)
        lkind = "1" if state == "row" else "2"
        rs = self.dims.shape(e.shape)
        hint = None
        if lkind == "1" and k == "1":
            hint = f"np.outer({bare(left)}, {bare(right)}) for the outer product"
        elif k == "1" and self.dims.same(ls.rows, rs.rows):
            hint = tidy_hint(f"{left}.T @ {right}, or {right} @ {left} (the row product)")
        elif lkind == "1" and self.dims.same(ls.cols, rs.cols):
            hint = f"{right} @ {left} for the matrix-vector product"
        raise ShapeError(f"cannot multiply {left} ({shape(lkind, ls.T if lkind == '1' else ls)}) by {right} "
                         f"({shape(k, rs)})", text=self.text, span=span, hint=hint)

    # -- broadcasting ---------------------------------------------------------------------------
    def broadcast(self, args: list) -> list:
        """The operands of an elementwise op spread as NumPy broadcasts them: a 1-D vector is a row
        (1, n); a 2-D axis of length 1 spreads to the other operands' length along it. Scalars are
        left to the op (its own explicit scalar broadcast)."""
        kinds = [self.kind(e) for e, _ in args]
        if "2" not in kinds and "col" not in kinds and "row" not in kinds:
            return args                                   # scalars and 1-D vectors: as they are
        shapes = [self.dims.shape(e.shape) for e, _ in args]
        rows = next((s.rows for s, k in zip(shapes, kinds) if k in ("2", "col")), 1)
        cols = next((s.cols if k != "1" else s.rows for s, k in zip(shapes, kinds)
                     if k in ("2", "row", "1")), 1)
        out = []
        for (e, span), k in zip(args, kinds):
            if k == "1":
                e, k = _flip(e), "row"
            if k == "row" and rows != 1:
                e = call("ones", params=(rows, 1)) @ e
            elif k == "col" and cols != 1:
                e = e @ call("ones", params=(1, cols))
            out.append((e, span))
        return out

    def result_kind(self, op_name: str, args: list, out: Expr) -> Expr:
        """A column made from a 2-D column (exp(c), c + 1) is a 2-D column."""
        if self.one_d() and op_name not in ("matmul", "transpose") and self.kind(out) == "1" \
                and any(id(a) in self.two_d for a, _ in args):
            return self.mark_2d(out, like=args[0][0] if len(args) == 1 else None)
        return out

    def negated(self, e: Expr) -> Expr:
        return self.result_kind("neg", [(e, None)], call("neg", e))

    # -- transposes ----------------------------------------------------------------------------------
    def transpose(self, e: Expr, span) -> Expr:
        """`.T`: a 1-D array is its own transpose; marking the text as written with columns."""
        k = self.kind(e)
        if k == "1":
            if self.transposed_vector is None:
                self.transposed_vector = span
            return e
        out = self.apply_exprs("transpose", [(e, span)], span)
        return self.mark_2d(out) if k == "row" and self.one_d() else out

    # -- axes ----------------------------------------------------------------------------------------
    def keywords(self, node, allowed: tuple, what: str) -> tuple[list, dict]:
        """A call's positional argument nodes, and its keyword arguments by name."""
        positional, named = [], {}
        for kid in node.kids:
            if kid.kind != "keyword":
                if named:
                    raise ParseError("a positional argument follows a keyword argument", text=self.text,
                                     span=kid.span)
                positional.append(kid)
                continue
            if kid.value not in allowed:
                raise ParseError(f"{what} takes no keyword {kid.value!r}", text=self.text, span=kid.span,
                                 hint=f"its keywords: {', '.join(allowed)}" if allowed else f"{what}(x)")
            named[kid.value] = kid.kids[0]
        return positional, named

    def axis_of(self, node, ndim: int) -> int | None:
        """axis=0, 1, -1, -2 or None, as an axis of an array of `ndim` dims."""
        n = node
        while n.kind == "group":
            n = n.kids[0]
        if n.kind == "name" and n.value == "None":
            return None
        sign = 1
        if n.kind == "neg":
            sign, n = -1, n.kids[0]
        if n.kind != "number" or not n.value.isdigit() or int(n.value) >= 2 + (sign < 0):
            raise ParseError("axis must be 0, 1, -1, -2 or None", text=self.text, span=node.span)
        axis = sign * int(n.value)
        if not -ndim <= axis < ndim:
            raise ShapeError(f"axis {axis} is out of range for a {ndim}-D array", text=self.text, span=node.span,
                             hint="a 1-D array has axis 0 only" if ndim == 1 else None)
        return axis % ndim

    def flag(self, node) -> bool:
        n = node
        if n.kind == "name" and n.value in ("True", "False"):
            return n.value == "True"
        raise ParseError("expected True or False", text=self.text, span=node.span)

    def along_axis(self, name: str, x: Expr, xspan, axis_node, keep_node, span) -> Expr:
        """f(Z, axis=k): a reduction gives one value per row (axis=1) or per column (axis=0), 1-D
        unless keepdims keeps the axis (a 2-D column or row); softmax along an axis keeps the shape."""
        k = self.kind(x)
        ndim = {"0": 0, "1": 1}.get(k, 2)
        if ndim == 0:
            raise ShapeError(f"{name}(…, axis=…) of a scalar", text=self.text, span=span, hint=f"{name}(x)")
        axis = self.axis_of(axis_node, ndim) if axis_node is not None else None
        keep = self.flag(keep_node) if keep_node is not None else False
        if k in ("col", "row") and axis is not None:   # a 2-D column or row: one axis has length 1
            if axis == (1 if k == "col" else 0):          # along the length-1 axis: each entry alone
                if name in ("softmax", "log_softmax"):
                    raise ShapeError(f"{name} along an axis of length 1 is constant", text=self.text, span=span,
                                     hint=f"the other axis: axis={1 - axis}")
                entries = self.apply_exprs("abs", [(x, xspan)], span) if name == "norm" else x
                return entries if keep else (_flip(entries) if k == "row" else _fresh(entries))
            axis = None
        if axis is None or ndim == 1:      # all entries
            out = self.apply_exprs(name, [(x, xspan)], span)
            return self.mark_2d(out, like=x) if k == "col" and name not in REDUCTIONS else out
        from .ops.axes import along
        try:
            out = along(name, x, axis)
        except ShapeMismatch as m:
            what = self.describe(xspan)
            raise ShapeError(m.template.format(what), text=self.text, span=span,
                             hint=m.hint_template.format(what) if m.hint_template else None) from None
        if name not in REDUCTIONS:
            return out
        if not self.one_d():               # read with columns: one value per row is a column, per column a row
            return _flip(out) if axis == 0 else out
        if keep:
            return _flip(out) if axis == 0 else self.mark_2d(out)
        return out

    # -- indexing -------------------------------------------------------------------------------------
    def b_index(self, node):
        obj, subs = node.kids[0], node.kids[1:]
        x = self.build(obj)
        k = self.kind(x)
        new_axes = [i for i, s in enumerate(subs) if s.kind == "name" and s.value == "None"]
        if k == "0":
            raise ShapeError(f"{self.describe(obj.span)} is a scalar and cannot be indexed", text=self.text,
                             span=node.span)
        if new_axes:
            return self.new_axis(x, k, subs, new_axes, node)
        if k in ("1", "col") and not (k == "col" and len(subs) == 2):
            if len(subs) != 1:
                raise ShapeError(f"{self.describe(obj.span)} is a vector (1-D); it takes one index, got {len(subs)}",
                                 text=self.text, span=node.span)
            return self.take(x, subs[0], None, node)
        if k == "row" and len(subs) == 1:
            return self.take(_flip(x), subs[0], None, node)   # r[0] of a (1, n) row is its 1-D vector
        if len(subs) > 2:
            raise ShapeError(f"{self.describe(obj.span)} has 2 axes; got {len(subs)} indices", text=self.text,
                             span=node.span)
        rows, cols = subs[0], subs[1] if len(subs) == 2 else None
        out = self.take(x, rows, cols, node)
        if self.numpy_style and self.kind(out) == "row" and self.integer_index(rows):
            return _flip(out)             # X[i] and X[i, a:b] are 1-D
        if self.numpy_style and not self.columns and self.kind(out) == "1" and not self.integer_index(cols):
            return self.mark_2d(out, like=x)   # X[a:b, :] of a column-shaped X stays 2-D
        return out

    @staticmethod
    def integer_index(sub) -> bool:
        return sub is not None and sub.kind != "slice"

    def take(self, x: Expr, rows, cols, node) -> Expr:
        from .ops.index import take
        try:
            return take(x, self.selection(rows), self.selection(cols))
        except ShapeMismatch as m:
            raise ShapeError(m.template.format(self.describe(node.kids[0].span)), text=self.text, span=node.span,
                             hint=m.hint_template.format(self.describe(node.kids[0].span)) if m.hint_template
                             else None) from None

    def selection(self, sub):
        """A subscript as take() wants it: None (all), an int, or a slice of ints."""
        if sub is None:
            return None
        if sub.kind == "slice":
            bounds = iter(sub.kids)
            start = self.index_value(next(bounds)) if sub.value[0] else None
            stop = self.index_value(next(bounds)) if sub.value[1] else None
            return None if start is None and stop is None else slice(start, stop)
        return self.index_value(sub)

    def index_value(self, sub) -> int:
        n, sign = sub, 1
        while n.kind == "group":
            n = n.kids[0]
        if n.kind == "neg":
            sign, n = -1, n.kids[0]
        if n.kind != "number" or not n.value.isdigit():
            raise ParseError("an index must be an integer constant", text=self.text, span=sub.span,
                             hint="x[0], X[:, -1], X[1:3, :]")
        return sign * self.integer(n.value, n.span, "an index")

    def new_axis(self, x: Expr, k: str, subs, new_axes, node) -> Expr:
        """b[:, None] (a 2-D column), b[None, :] and b[None] (a 2-D row) of a 1-D vector."""
        rest = [s for i, s in enumerate(subs) if i not in new_axes]
        if k != "1" or len(subs) > 2 or len(new_axes) != 1 or any(
                not (s.kind == "slice" and not any(s.value)) for s in rest):
            raise ShapeError("None (a new axis) is supported on a 1-D vector only: b[:, None] or b[None, :]",
                             text=self.text, span=node.span)
        if new_axes[0] == 0:
            return _flip(x)                       # (1, n): a 2-D row
        return self.mark_2d(x, like=x)       # (n, 1): a 2-D column

    # -- methods ---------------------------------------------------------------------------------------
    def reshape_dim(self, a) -> int | str:
        n, sign = a, 1
        if n.kind == "neg":
            sign, n = -1, n.kids[0]
        if n.kind == "number" and n.value.isdigit():
            return sign * int(n.value)
        if n.kind == "name" and sign == 1:
            return n.value
        raise ParseError("reshape takes sizes: reshape(-1, 1), reshape(1, -1) or reshape(-1)",
                         text=self.text, span=a.span)

    def reshape(self, x: Expr, dims: list, node) -> Expr:
        """reshape(-1, 1) / (n, 1): a 2-D column; (1, -1): a 2-D row; (-1): 1-D; ravel(), flatten()."""
        k = self.kind(x)
        if k == "2" and dims not in ([-1],):
            raise ShapeError(f"{self.describe(node.kids[0].span)} is a matrix; matdiff reshapes vectors only",
                             text=self.text, span=node.span, hint="vec(X) for the columns stacked")
        if k == "2":
            return self.apply_exprs("vec", [(_flip(x), node.kids[0].span)], node.span)   # row-major, as NumPy
        column = _flip(x) if k == "row" else x
        if len(dims) == 1 and dims[0] in (-1, column.shape.rows):
            return _fresh(column) if id(column) in self.two_d else column
        if len(dims) == 2 and dims[1] == 1:
            return self.mark_2d(column, like=column) if self.one_d() else column
        if len(dims) == 2 and dims[0] == 1:
            return _flip(column)
        raise ShapeError(f"cannot reshape {self.describe(node.kids[0].span)} to {tuple(dims)}", text=self.text,
                         span=node.span, hint="reshape(-1, 1) for a column, reshape(1, -1) for a row")

