"""Expr → NumPy source. A driver: each op declares its NumPy printer (`Op.numpy`, in
matdiff/ops/), and where a better form exists a named rewrite (np_rewrites.py) writes the node
instead. Shared subexpressions are computed once (CSE); matrix chains are ordered by cost,
inverses become np.linalg.solve, diag(u) @ W becomes row scaling by broadcasting,
column-times-row becomes np.outer. Column vectors are 1-D arrays at run time, so the code never
takes .T of a 1-D array. Helpers (stable logsumexp, softmax) are inlined.

Names. Every emitted function takes its arrays by keyword: a symbol's keyword is `py_name` of
its name (the name itself; `lambda_` for a Python keyword such as `lambda`). One namer per
function (`_Names`) gives every symbol, dim, temporary and the `**` catch-all a distinct local
identifier, none of which is a name the code reads from outside the function: `np` (the op
templates write `np.` literally), the helpers, and the builtins. A symbol whose keyword is a
usable parameter name is that parameter; one whose keyword is an outside name (`np`, `sum`,
`_softmax`), or no plain identifier at all, is received through `**arrays` and bound to a fresh
local on the first line (`np_ = arrays["np"]`), so the caller still passes `np=`. Dims and
temporaries then take the names left over (`k_ = x.shape[0]` beside a symbol `k`; `prod2` beside
a symbol `prod1`)."""

from __future__ import annotations

import builtins
import keyword
import math
import re
import unicodedata

from ..errors import DerivationError, DomainError, ShapeError
from ..expr import OPS, Call, Const, Expr, Symbol, stack_room
from .np_rewrites import PRODUCT_FORMS, REWRITES, paren, size_of


def py_name(name: str) -> str:
    """The keyword a caller passes for a symbol: its name, or `lambda_` for a Python keyword such
    as `lambda`. Every emitted function accepts each of its symbols by this keyword, whatever
    the name (see the module docstring for how one that cannot be a parameter arrives)."""
    return name + "_" if keyword.iskeyword(name) else name


def _outside_names() -> frozenset[str]:
    """The names emitted code reads from the module or the builtins; no local may shadow them.
    All builtins, not only those the code uses today, so that a template may use any."""
    helpers = {m.group(1) for op in OPS.values()
               if (m := re.match(r"def (\w+)\(", op.extra.get("helper") or ""))}
    return frozenset({"np", *helpers, *dir(builtins)})


def _is_parameter(name: str) -> bool:
    """Whether `name` can be written as a parameter and still be passed as itself: Python
    normalises identifiers (NFKC) in source, not in the keywords of a call."""
    return name.isidentifier() and not keyword.iskeyword(name) and \
        unicodedata.normalize("NFKC", name) == name


def _identifier(name: str) -> str:
    """The closest plain identifier to `name`, as the base of a local."""
    name = "".join(ch if ("a" + ch).isidentifier() else "_" for ch in unicodedata.normalize("NFKC", name))
    if not name.isidentifier():   # empty, or led by a digit
        name = "_" + name
    if keyword.iskeyword(name):
        name += "_"
    return name if _is_parameter(name) else "arg"    # NFKC and the filter disagreed: any name will do


def _quoted(text: str) -> str:
    """A string literal, in double quotes like the rest of the emitted code where it can be."""
    return f'"{text}"' if text.isprintable() and not set(text) & {'"', "\\"} else repr(text)


class _Names:
    """The identifiers of one emitted function. Symbols with usable keywords are named first, as
    their keywords; everything else takes a fresh name that no other local and no outside name
    (`_outside_names`) has, so no binding in the function can hide another."""

    def __init__(self, params: list[Symbol], dims: list[str]):
        self.taken: set[str] = set(_outside_names())
        self.counts: dict[str, int] = {}
        self.keyword: dict[str, str] = {}    # symbol name → the keyword the caller passes
        owner: dict[str, str] = {}
        for p in params:
            kw = self.keyword[p.name] = py_name(p.name)
            if owner.setdefault(kw, p.name) != p.name:
                raise DerivationError(f"the symbols {owner[kw]} and {p.name} would both be passed as {kw}=",
                                      hint="rename one of them")
        self.local: dict[str, str] = {}      # symbol name → its identifier in the body
        for name, kw in self.keyword.items():
            if _is_parameter(kw) and kw not in self.taken:
                self.local[name] = kw
                self.taken.add(kw)
        self.received = [name for name in self.keyword if name not in self.local]   # through **
        for name in self.received:
            self.local[name] = self.fresh(_identifier(self.keyword[name]))
        self.catch_all = self.fresh("arrays") if self.received else None
        # a dim no input has (m in tr(Iₘ)·a) is a number the caller passes, by its own name
        bound = {f for p in params for d in p.shape.numpy() if isinstance(d, str) for f in d.split("·")}
        self.free = [d for d in dims if d not in bound]
        for d in self.free:
            if not _is_parameter(d) or d in self.taken or d in self.keyword.values():
                raise DerivationError(f"the size {d} is read off no input, so the function takes it as {d}=, "
                                      f"but {d} is taken", hint=f"rename the input {d}, or give it a shape with {d}")
            self.taken.add(d)
        self.dims = {d: d if d in self.free else self.fresh(_identifier(d)) for d in dims}

    def fresh(self, base: str) -> str:
        """`base`, or `base_`, `base_2`, … : the first that is free."""
        name, k = base, 1
        while name in self.taken:
            name, k = (f"{base}_" if k == 1 else f"{base}_{k}"), k + 1
        self.taken.add(name)
        return name

    def temp(self, base: str) -> str:
        """The next free `base1`, `base2`, … for a temporary."""
        k = self.counts.get(base, 0)
        while True:
            k += 1
            if f"{base}{k}" not in self.taken:
                break
        self.counts[base] = k
        self.taken.add(f"{base}{k}")
        return f"{base}{k}"

    def signature(self, used: set) -> str:
        """`*, x, A` for the parameters, then the sizes no input has that the body uses, then
        `**arrays` if some symbols arrive through it."""
        named = [self.local[name] for name in self.keyword if name not in self.received]
        named += [d for d in self.free if d in used]
        return ", ".join((["*", *named] if named else []) + ([f"**{self.catch_all}"] if self.catch_all else []))

    def receiving_lines(self) -> list[str]:
        """`np_ = arrays["np"]` for each symbol that arrives through **."""
        return [f"{self.local[n]} = {self.catch_all}[{_quoted(self.keyword[n])}]" for n in self.received]

    def dim(self, d: int | str) -> int | str:
        """A dim as the code names it: a symbolic dim (or each factor of m·n) by its local."""
        if not isinstance(d, str):
            return d
        return "·".join(self.dims.get(f, f) for f in d.split("·"))


class _Emitter:
    """Writes the body of one function: the driver of the ops' NumPy printers. A node is written
    by the first named rewrite that applies to it (np_rewrites.REWRITES: a better form than its
    op's own, with the identity and why), else by its op's printer `op.numpy(emitter, node)`.
    Both return (code, precedence): 1 for + and -, 2 for * / @ and a leading minus (-x * y),
    3 for a negative number, 4 for **, 9 for an atom (a name, a call, a subscript, x.T). The
    services a printer calls back are `code`, `arg`, `dim`, `template` and `chain`."""

    def __init__(self, outputs: list[Expr], names: _Names):
        self.names = names
        self.lines: list[str] = []
        self.helpers: dict[str, str] = {}
        self.temps: dict[Expr, str] = {}
        self.shared = self._shared(outputs)

    @staticmethod
    def _shared(outputs) -> set[Expr]:
        """Nodes with two or more distinct parents (structurally), worth a temporary; a rewrite
        that reads a node's grandchild (1 − σ(z) written from z) counts as one more parent of it."""
        refs: dict[Expr, int] = {}
        for o in outputs:
            refs[o] = refs.get(o, 0) + 1
        seen: set[Expr] = set()
        stack = list(outputs)
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            for c in set(node.children):
                refs[c] = refs.get(c, 0) + 1
                stack.append(c)
            for rewrite in REWRITES:
                for c in getattr(rewrite, "reads", lambda e: ())(node):
                    refs[c] = refs.get(c, 0) + 1
        return {n for n, k in refs.items() if k > 1 and isinstance(n, Call) and not _trivial(n)}

    def temp(self, node: Call, code: str) -> str:
        # names read better than the ops' own for the infix ops; any other temporary takes its op's name
        base = {"matmul": "prod", "add": "total", "mul": "had", "div": "quot", "power": "pow",
                "transpose": "tr"}.get(node.op.name, node.op.name)
        name = self.names.temp(base)
        self.lines.append(f"{name} = {code}")
        self.temps[node] = name
        return name

    # -- services for the printers -----------------------------------------------------------------
    def code(self, e: Expr) -> tuple[str, int]:
        """The code of `e` and its precedence; a shared node is computed once, into a temporary."""
        if e in self.temps:
            return self.temps[e], 9
        if isinstance(e, Symbol):
            return self.names.local[e.name], 9
        if isinstance(e, Const):
            v = e.value
            s = str(v) if isinstance(v, int) else repr(float(v)) if math.isfinite(v) else \
                "np.nan" if math.isnan(v) else "np.inf" if v > 0 else "-np.inf"
            return s, 3 if v < 0 else 9
        code, prec = self.call(e)
        if e in self.shared:
            return self.temp(e, code), 9
        return code, prec

    def arg(self, e: Expr, prec: int) -> str:
        """The code of `e` where an operand of precedence `prec` at least is needed: bracketed below."""
        code, p = self.code(e)
        return f"({code})" if p < prec else code

    def dim(self, d) -> str:
        """A dim as a NumPy expression of the function's locals: n, 3, or m * n (the size of vec X)."""
        return str(self.names.dim(d)).replace("·", " * ")

    def template(self, text: str, args) -> tuple[str, int]:
        """`text`, a format string over `args` that is one call (`np.exp({0})`,
        `np.linalg.slogdet({0})[1]`), filled in: an argument in a slot of its own (`f({0}, 0)`)
        bare, one inside an expression (`-{0}`) bracketed unless it is an atom. An atom."""
        def fill(m):
            alone = text[:m.start()].endswith(("(", ", ")) and text[m.end():].startswith((")", ","))
            a = args[int(m.group(1))]
            return self.code(a)[0] if alone else self.arg(a, 9)
        return re.sub(r"\{(\d+)\}", fill, text), 9

    def chain(self, factors) -> tuple[str, int]:
        """The product of `factors` (two or more), multiplied in the order of least cost (a
        symbolic dim counts as np_rewrites.NOMINAL_DIM); each pair in the first of PRODUCT_FORMS
        that applies (solve for an inverse, broadcasting for a diag), else by `multiply`."""
        factors = list(factors)
        split = _chain_order([size_of(f.shape) for f in factors])

        def build(i: int, j: int):
            if i == j:
                return factors[i], None
            k = split[i][j]
            return build(i, k), build(k + 1, j)

        code, _, prec = self.product(build(0, len(factors) - 1))
        return code, prec

    # -- the driver --------------------------------------------------------------------------------
    def call(self, e: Call) -> tuple[str, int]:
        helper = e.op.extra.get("helper")
        if helper:
            self.helpers[e.op.name] = helper
        for rewrite in REWRITES:
            out = rewrite(self, e)
            if out is not None:
                return out
        if e.op.numpy is None:
            raise ShapeError(f"no NumPy form for {e.op.name}")
        return e.op.numpy(self, e)

    def product(self, tree) -> tuple[str, tuple, int]:
        """(code, shape, precedence) of a tree of factors: a factor, or a pair (left, right)."""
        left, right = tree
        if right is None:
            code, prec = self.code(left)
            return code, left.shape, prec
        for form in PRODUCT_FORMS:
            out = form(self, left, right)
            if out is not None:
                return out
        return self.multiply(self.product(left), self.product(right))

    @staticmethod
    def multiply(left, right) -> tuple[str, tuple, int]:
        """L @ R; L * R where one of them is a 1×1 partial product (yᵀx inside x yᵀ x yᵀ), and
        np.outer(l, r) for a column times a row (both 1-D at run time)."""
        (lc, ls, lp), (rc, rs, rp) = left, right
        if ls == (1, 1) or rs == (1, 1):
            return f"{paren(lc, lp, 2)} * {paren(rc, rp, 3)}", (ls[0], rs[1]) if ls != (1, 1) else rs, 2
        if ls[1] == 1 and ls[0] != 1 and rs[0] == 1 and rs[1] != 1:
            return f"np.outer({lc}, {rc})", (ls[0], rs[1]), 9
        return f"{paren(lc, lp, 2)} @ {paren(rc, rp, 3)}", (ls[0], rs[1]), 2


def _trivial(e: Call) -> bool:
    """Not worth a temporary: the transpose of a name (a view)."""
    return e.op.name == "transpose" and not isinstance(e.args[0], Call)


def _chain_order(sizes: list[tuple[int, int]]) -> list[list[int]]:
    """The classic matrix-chain dynamic programme: split[i][j] is where to split factors i..j."""
    n = len(sizes)
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i][0] * sizes[k][1] * sizes[j][1]
                if best is None or c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


# -- functions ---------------------------------------------------------------------------------------

def _needed_dims(outputs: list[Expr]) -> list[str]:
    """The symbolic dims that eye/zeros/ones and sizes need at run time."""
    needed = []
    for out in outputs:
        for node in out.walk():
            if isinstance(node, Call) and node.params:
                factors = [f for d in node.params if isinstance(d, str) for f in d.split("·")]
                for f in factors:
                    if not f.isdigit() and f not in needed:
                        needed.append(f)
    return needed


def _dim_lines(params: list[Symbol], names: _Names) -> list[str]:
    """`n = A.shape[0]` for each needed dim that an input has, read off the first that has it."""
    lines = []
    for d in names.dims:
        for s in params:
            rt = s.shape.numpy()
            axes = [i for i, dim in enumerate(rt) if dim == d]
            if axes:
                lines.append(f"{names.dims[d]} = {names.local[s.name]}.shape[{axes[0]}]")
                break
    return lines


EMIT_FRAMES = 12   # the most Python frames the emitter spends on one level of nesting


def function_source(fname: str, params: list[Symbol], outputs: list[Expr], doc: str) -> tuple[str, dict]:
    names = _Names(params, _needed_dims(outputs))
    em = _Emitter(outputs, names)
    with stack_room(max(o.depth() for o in outputs), EMIT_FRAMES):   # the printers recurse
        codes = [em.code(o)[0] for o in outputs]
    used = set(re.findall(r"\w+", "\n".join(em.lines + codes)))
    dims = [ln for ln in _dim_lines(params, names) if ln.split(" = ")[0] in used]   # x + a needs no n
    body = names.receiving_lines() + dims + em.lines
    lines = [f"def {fname}({names.signature(used)}):", f'    """{doc}"""']
    lines += ["    " + ln for ln in body]
    lines.append("    return " + ", ".join(codes))
    return "\n".join(lines) + "\n", em.helpers


def module_source(functions: list[tuple[str, list[Symbol], list[Expr], str]]) -> str:
    parts, helpers = [], {}
    for fname, params, outputs, doc in functions:
        src, h = function_source(fname, params, outputs, doc)
        parts.append(src)
        helpers.update(h)
    head = "import numpy as np\n"
    return "\n\n".join([head] + list(helpers.values()) + parts)


def _describe(s: Symbol) -> str:
    rt = s.shape.numpy()
    return f"{s.name}: {'scalar' if not rt else 'vector of length ' + str(rt[0]) if len(rt) == 1 else f'{rt[0]}×{rt[1]} matrix'}"


def gradient_module(d, name: str = "gradient") -> str:
    params = list(d.symbols.values())
    grads = [d.gradients[w] for w in d.wrt]
    wrt = ", ".join(d.wrt)
    args = "; ".join(_describe(s) for s in params)
    return module_source([
        ("value", params, [d.value_expr], f"f = {d.expr}   ({args})"),
        (name, params, grads, f"∇f with respect to {wrt}, f = {d.expr}; "
                              f"returns {'a tuple in the order ' + wrt if len(grads) > 1 else 'an array shaped like ' + wrt}"),
    ])


def results_module(d, kind: str, name: str) -> str:
    """`value` and one function, called `name`, for `kind` (gradient, jacobian, hessian, kron, hvp)."""
    if kind == "gradient":
        return gradient_module(d, name)
    params = list(d.symbols.values())
    if kind == "hvp":
        params += list(d.directions.values())
    outputs = {"jacobian": lambda: [d.jacobians[w] for w in d.wrt],
               "hessian": lambda: [d.hessians[(a, b)] for a in d.wrt for b in d.wrt],
               "kron": lambda: [d.krons[w] for w in d.wrt],
               "hvp": lambda: [d.hvps[w] for w in d.wrt]}[kind]()
    what = {"jacobian": f"Jacobian ({d.layout} layout; Kronecker form, column-major vec, for a matrix variable)",
            "hessian": "Hessian blocks in the order " + ", ".join(f"({a}, {b})" for a in d.wrt for b in d.wrt)
                       + " (Kronecker form, column-major vec, for a matrix variable)",
            "kron": "Kronecker form K with vec(DF[V]) = K vec(V), column-major vec: V.reshape(-1, order='F')",
            "hvp": "Hessian-vector product D(grad f)[" + ", ".join(v.name for v in d.directions.values()) + "]"}[kind]
    return module_source([
        ("value", list(d.symbols.values()), [d.value_expr], f"f = {d.expr}"),
        (name, params, outputs, f"{what} of f = {d.expr} with respect to {', '.join(d.wrt)}"),
    ])


def compile_module(src: str) -> dict:
    import numpy as np
    ns: dict = {"np": np}
    exec(compile(src, "<matdiff>", "exec"), ns)
    return ns


def compile_gradient(d, check: bool = True):
    ns = compile_module(gradient_module(d))
    fn = ns["gradient"]
    return checked(fn, list(d.symbols.values())) if check else fn


def compile_results(d, outputs: list[Expr], name: str, check: bool = True):
    """A function of the inputs returning `outputs` (one array, or a tuple for several)."""
    params = list(d.symbols.values())
    src = module_source([(name, params, outputs, f"{name} of f = {d.expr} with respect to {', '.join(d.wrt)}")])
    fn = compile_module(src)[name]
    return checked(fn, params) if check else fn


def compile_value(expr: Expr, params: list[Symbol], check: bool = True):
    src = module_source([("value", params, [expr], f"f = {expr}")])
    fn = compile_module(src)["value"]
    return checked(fn, params) if check else fn


def compile_exprs(outputs: list[Expr], params: list[Symbol]):
    """A raw function of keyword arrays returning the values of several expressions."""
    src = module_source([("values", params, outputs, "values")])
    return compile_module(src)["values"]


def size_keywords(fn, keywords) -> tuple:
    """The sizes an emitted function takes as numbers (dims no input has), in order."""
    import inspect
    return tuple(n for n, p in inspect.signature(fn).parameters.items()
                 if p.kind is p.KEYWORD_ONLY and n not in keywords)


def checked(fn, params: list[Symbol]):
    """Wrap an emitted function: arrays by keyword, their shapes checked against the declared
    ones (a ShapeError names the array and the expected shape); floats keep their precision
    (float32 in, float32 out), other numbers become float64; a NaN or infinite input, or a
    singular matrix met on the way, is a DomainError rather than a silent NaN or a NumPy error."""
    import numpy as np
    names = {py_name(p.name): p for p in params}
    sizes = size_keywords(fn, names)

    def wrapper(**arrays):
        missing = [n for n in [*names, *sizes] if n not in arrays]
        extra = [n for n in arrays if n not in names and n not in sizes]
        if missing or extra:
            raise ShapeError(f"expected arrays {', '.join(names)}"
                             + (f" and the sizes {', '.join(sizes)} (no array has them)" if sizes else "")
                             + (f"; missing {', '.join(missing)}" if missing else "")
                             + (f"; unexpected {', '.join(extra)}" if extra else ""))
        for d in sizes:
            k = arrays.pop(d)
            if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
                raise ShapeError(f"the size {d} should be a positive integer, got {k!r}")
            arrays[d] = int(k)
        dims: dict = {}
        conv = {}
        for n, p in names.items():
            a = np.asarray(arrays[n])
            if a.dtype.kind == "c":
                raise DomainError(f"{n} is complex; matdiff's functions take real arrays")
            if a.dtype.kind != "f":
                a = a.astype(float)
            if not np.all(np.isfinite(a)):
                raise DomainError(f"{n} holds NaN or infinite entries", hint="the result would be NaN")
            want = p.shape.numpy()
            if a.ndim != len(want):
                raise ShapeError(f"{n} should be {_describe(p).split(': ')[1]} (a {len(want)}-D array), "
                                 f"got an array of shape {a.shape}",
                                 hint="vectors are 1-D arrays" if len(want) == 1 else None)
            for d, got in zip(want, a.shape):
                if dims.setdefault(d, got) != got:
                    raise ShapeError(f"{n} has shape {a.shape}, but {d} = {dims[d]} from another array")
            conv[n] = a
        try:
            return fn(**conv, **{d: arrays[d] for d in sizes})
        except (np.linalg.LinAlgError, ZeroDivisionError) as err:   # inv, solve, slogdet of a singular matrix
            raise DomainError(f"{fn.__name__} does not exist at this input: {err}",
                              hint="a matrix that is inverted (or whose determinant is used) is singular here") from None
        except IndexError as err:   # a constant index (x[5]) past the end of an array given
            raise ShapeError(f"{fn.__name__}: an index is out of range for the arrays given ({err})",
                             hint="the arrays are smaller than the expression's indices need") from None

    wrapper.__doc__ = fn.__doc__
    wrapper.raw = fn
    wrapper.sizes = sizes
    return wrapper
