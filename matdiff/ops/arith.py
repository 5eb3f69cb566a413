"""Sums, elementwise products and quotients, powers, negation, the constant matrices
(identity, zeros, ones), a scalar broadcast to a shape, and a dim used as a number.

Nothing is implicit: a scalar added to a matrix (or divided by one) is wrapped in an explicit
`broadcast` node by the constructor every sum and quotient passes through, so no rule has to
remember that a scalar term stands for c·𝟙. A scalar *factor* of a product is a scalar multiple
(c·A, the vector space's own operation), not a broadcast; a broadcast factor is made one."""

from __future__ import annotations

import math

from ..expr import DIMS, OPS, Call, Const, Symbol, call, is_scalar
from ..shapes import SCALAR, Shape
from .base import bilinear, broadcast, constant, declare, function, linear, need_scalar, smooth, vec_length


def _flatten(op_name: str, args) -> list:
    out = []
    for a in args:
        if isinstance(a, Call) and a.op.name == op_name:
            out.extend(a.args)
        else:
            out.append(a)
    return out


def is_broadcast(e) -> bool:
    return isinstance(e, Call) and e.op is BROADCAST


def spread(args, shape):
    """The operands of an elementwise op of result `shape`, each scalar one broadcast to it."""
    if shape.is_scalar:
        return list(args)
    return [Call(BROADCAST, (a,), (shape.rows, shape.cols), shape) if is_scalar(a) else a for a in args]


def shown_bare(args) -> list:
    """The operands as printed: a broadcast scalar beside an operand of the full shape is shown
    as the bare scalar (x + a), as NumPy and the textbook write it."""
    if all(is_broadcast(a) or is_scalar(a) for a in args):
        return list(args)
    return [a.args[0] if is_broadcast(a) else a for a in args]


def split_negative(e):
    """(True, |e|) when e prints with a leading minus (−3, −x, −2x, −2x / y), else (False, e)."""
    if isinstance(e, Const) and e.value < 0:
        return True, Const(-e.value)
    if isinstance(e, Call) and e.op.name == "mul" and isinstance(e.args[0], Const) and e.args[0].value < 0:
        c = -e.args[0].value
        rest = e.args[1:] if c == 1 else (Const(c), *e.args[1:])
        return True, rest[0] if len(rest) == 1 else Call(MUL, rest, shape=e.shape)
    if isinstance(e, Call) and e.op.name == "div":
        neg, num = split_negative(e.args[0])
        if neg:
            return True, Call(e.op, (num, e.args[1]), shape=e.shape)
    return False, e


_ADD_SHAPE, _MUL_SHAPE = broadcast("add"), broadcast("multiply elementwise")

# -- add -------------------------------------------------------------------------------------
# D(Σ aᵢ)[v] = Σ D aᵢ[v]; transpose: every term receives the cotangent (summed where broadcast).

def _add_build(args, params):
    dims = DIMS.get()
    shape = _ADD_SHAPE(dims, *(dims.shape(a.shape) for a in args))   # errors name the operands as written
    args = _flatten("add", args)
    return args[0] if len(args) == 1 else Call(ADD, tuple(spread(args, shape)), shape=shape)


def _sum_printer(minus: str):
    def pr(p, e):
        out = []
        for i, t in enumerate(shown_bare(e.args)):
            neg, body = split_negative(t)
            if i == 0:
                out.append(p.arg(t, 1) if not neg or p.style == "text" else minus.strip() + p.arg(body, 2))
            elif neg:
                out.append(f" {minus} " + p.arg(body, 2))
            else:
                out.append(" + " + p.arg(t, 1))
        return "".join(out)
    return pr


def _add_value(ev, e, *terms):
    if any(t.shape != terms[0].shape for t in terms):   # the IR's promise: broadcasts are explicit
        raise ValueError(f"add of shapes {[t.shape for t in terms]}")
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return out


def _sum_numpy(em, e):
    """x + c (NumPy broadcasts the bare scalar itself); a negative term is subtracted."""
    terms = shown_bare(e.args)
    out = em.arg(terms[0], 1)
    for t in terms[1:]:
        neg, body = split_negative(t)
        out += f" - {em.arg(body, 3)}" if neg else f" + {em.arg(t, 1)}"
    return out, 1


ADD = declare(
    "add", shape=_ADD_SHAPE, build=_add_build, numeric=_add_value,
    **linear(transpose=lambda e, i, ct: ct, matrix=lambda e, i: None,
             why="the derivative of a sum is the sum of the derivatives"),
    text=_sum_printer("-"), unicode=_sum_printer("−"), latex=_sum_printer("-"),
    numpy=_sum_numpy, prec=1, transposed=lambda e, t: _entrywise_transposed(e, t),
    extra={"keeps_symmetry": True, "transpose_if_fewer": True})


# -- neg (builds a product with −1) ----------------------------------------------------------

def _neg_build(args, params):
    (x,) = args
    if isinstance(x, Const):
        return Const(-x.value)
    if isinstance(x, Call) and x.op.name == "mul" and isinstance(x.args[0], Const):
        c = -x.args[0].value
        return call("mul", *x.args[1:]) if c == 1 else call("mul", Const(c), *x.args[1:])
    if isinstance(x, Call) and x.op.name == "div":   # −(a / b) = (−a) / b, as it prints
        return call("div", call("neg", x.args[0]), x.args[1])
    return call("mul", Const(-1), x)


declare("neg", shape=lambda dims, s: s, build=_neg_build, arity=1)


# -- mul: elementwise (Hadamard) product; a scalar factor makes it a scalar multiple --------------
# D(a ⊙ b)[v] = Da[v] ⊙ b + a ⊙ Db[v]; transpose for factor i: ct ⊙ Π_{j≠i} aⱼ.

def _mul_build(args, params):
    dims = DIMS.get()
    shape = _MUL_SHAPE(dims, *(dims.shape(a.shape) for a in args))
    args = [a.args[0] if is_broadcast(a) else a for a in _flatten("mul", args)]   # c ⊙ X = c·X
    if not shape.is_scalar and all(is_scalar(a) for a in args):       # only broadcasts: c𝟙 ⊙ d𝟙 = (cd)𝟙
        return broadcast_to(call("mul", *args), shape)
    numbers = [a for a in args if isinstance(a, Const)]
    if len(numbers) > 1 or (numbers and numbers[0] is not args[0]):
        value = 1
        for c in numbers:       # numbers multiply and lead: x * 2 * 3 = 6 * x
            value *= c.value
        if math.isfinite(value):   # 1e308 * 10 stays as written rather than becoming inf
            rest = [a for a in args if not isinstance(a, Const)]
            args = ([Const(value)] if value != 1 or not rest else []) + rest
    return args[0] if len(args) == 1 else Call(MUL, args, shape=shape)


def _mul_transpose(e, i, ct):
    """A factor's cotangent is ct ⊙ (the other factors); a scalar factor c of c·A gets
    ⟨ct, A⟩ = sum(ct ⊙ A)."""
    others = e.args[:i] + e.args[i + 1:]
    out = call("mul", ct, *others)
    return call("sum", out) if is_scalar(e.args[i]) and not is_scalar(e) else out


def _mul_matrix(e, i):
    """vec(a ⊙ U) = diag(vec a) vec U; c·U = c vec U for a scalar c; a·s = vec(a) s for a
    scalar factor s that moves."""
    others = e.args[:i] + e.args[i + 1:]
    o = others[0] if len(others) == 1 else call("mul", *others)
    if is_scalar(o):
        return o
    if is_scalar(e.args[i]):
        return call("vec", o)
    return call("diag", call("vec", o))


def _entrywise_transposed(e, t):
    """(A ⊙ B)ᵀ = Aᵀ ⊙ Bᵀ and (A + B)ᵀ = Aᵀ + Bᵀ; a scalar stays as it is."""
    return call(e.op, *(a if is_scalar(a) else t(a) for a in e.args))


def _mul_value(ev, e, *factors):
    out = factors[0]
    for f in factors[1:]:
        if f.shape != out.shape and (1, 1) not in (f.shape, out.shape):   # only a scalar multiple spreads
            raise ValueError(f"mul of shapes {out.shape} and {f.shape}")
        out = out * f
    return out


def _mul_text(p, e):
    a = e.args
    # `2 * A @ x`: scalar atoms in front of a matrix product read (and parse) as a scalar multiple.
    if len(a) >= 2 and isinstance(a[-1], Call) and a[-1].op.name == "matmul" and all(
            isinstance(s, (Const, Symbol)) and s.shape.is_scalar for s in a[:-1]):
        head = a[:-1]
        if head == (Const(-1),):
            first = a[-1].args[0]
            absorbs = isinstance(first, Const) or (isinstance(first, Call) and first.op.name in ("mul", "div"))
            # −A @ x reads back as (−A) @ x = −(A @ x); a leading quotient would absorb the sign
            return "-" + (p.arg(a[-1], 9) if absorbs else p(a[-1]))
        return " * ".join(p.arg(s, 3) for s in head) + " * " + p(a[-1])
    if isinstance(a[0], Const) and a[0].value == -1 and not isinstance(a[1], Const) and not (
            isinstance(a[1], Call) and a[1].op.name == "div"):   # −(a/b) would read as (−a)/b
        return "-" + " * ".join(p.arg(s, 3) for s in a[1:])
    return " * ".join(p.arg(s, 3) for s in a)


def _scaled_printer(hadamard: str, minus: str, sep: str):
    """Paper form: scalars by juxtaposition in front (2Ax, αx, −x), ⊙ between matrices."""
    def pr(p, e):
        scalars = [s for s in e.args if s.shape.is_scalar]
        rest = [s for s in e.args if not s.shape.is_scalar]
        if not rest:
            scalars, rest = scalars[:-1], scalars[-1:]
        body = f" {hadamard} ".join(p.arg(s, 3 if len(rest) > 1 or not scalars else 2) for s in rest)
        if len(rest) > 1 and scalars:
            body = f"({body})"
        parts: list = []
        for s in scalars:
            if isinstance(s, Const) and s.value == -1:
                parts.insert(0, minus)
            elif isinstance(s, Const) and s.value < 0:
                parts[:0] = [minus, Const(-s.value)]
            else:
                parts.append(s)
        if len(rest) == 1:
            return join_factors(p, parts + rest, sep or " ")
        return join_factors(p, parts, sep or " ", then=body)
    return pr


def join_factors(p, factors: list, sep: str, then: str = "") -> str:
    """Factors side by side (2Ax, xᵀAx), with `sep` where a name longer than one letter or a
    function name would run into its neighbour (α sum(y), lam w, W1 x, 2 3), or where the reader
    would take the two for one word or one call (p.runs_on). `factors` holds Exprs, or str for a
    sign; `then` is printed text that follows. LaTeX always separates (spacing is LaTeX's business
    there)."""
    out, prev = "", None
    for i, f in enumerate(factors):
        if isinstance(f, str):
            out += f
            prev = None
            continue
        product = isinstance(f, Call) and f.op.name in ("matmul", "ones")   # 𝟙𝟙ᵀ is a product too
        text = p.arg(f, 2 if product else 3)
        if p.style == "unicode" and isinstance(f, Call) and f.op.extra.get("paper_prefix") \
                and (i < len(factors) - 1 or then):
            text = f"({text})"     # log det A applies to all the factors on its right: (log det A) a
        if prev is not None:
            right, left = edge(prev, -1, p), edge(f, 0, p)
            if p.style == "latex" or left == 0 or (right > 1 or left > 1) and right != 0 \
                    or _scalar_product(prev) or p.runs_on(out, text):
                out += sep
        out, prev = out + text, f
    if then:
        out += (sep if p.style == "latex" or _scalar_product(prev) or p.runs_on(out, then) else "") + then
    return out


def _scalar_product(e) -> bool:
    """xᵀy z: a scalar product stands apart from what it scales (xᵀyz reads the same, but in
    yᵀyCᵀ and yᵀy(u ⊙ v) the reader would multiply y by Cᵀ, or by the bracket, first)."""
    return isinstance(e, Call) and e.op.name == "matmul" and e.shape.is_scalar


def edge(e, side: int, p) -> int:
    """How the printed e starts (side 0) or ends (side −1): the length of the name there
    (a function's name at the start), 1 for a bracket or superscript, 0 for a number."""
    if isinstance(e, Call) and e.op.name == "matmul":
        return edge(e.args[side], side, p)
    if p.prec(e) < 3:
        return 1                                   # printed in parentheses
    if isinstance(e, Symbol):
        return len(e.name)
    if isinstance(e, Const):
        return 0
    name = e.op.name
    if name == "mul" and len(e.args) > 1:
        return edge(e.args[side], side, p)
    if name in ("transpose", "inv", "power"):
        return edge(e.args[0], 0, p) if side == 0 else 1
    if name == "norm" or side != 0:
        return 1
    printed = p(e)
    return max(1, len(printed) - len(printed.lstrip("abcdefghijklmnopqrstuvwxyzσ ")))


def _mul_numpy(em, e):
    """a * b * c; −1 · x is -x. (A scalar times a matrix product is the emitter's rewrite
    scale_smallest_factor.)"""
    a = e.args
    if isinstance(a[0], Const) and a[0].value == -1:
        return "-" + " * ".join(em.arg(f, 3) for f in a[1:]), 2
    return " * ".join([em.arg(a[0], 2)] + [em.arg(f, 3) for f in a[1:]]), 2


MUL = declare(
    "mul", shape=_MUL_SHAPE, build=_mul_build, text=_mul_text, numeric=_mul_value,
    **bilinear(transpose=_mul_transpose, matrix=_mul_matrix),
    unicode=_scaled_printer("⊙", "−", ""), latex=_scaled_printer(r"\odot", "-", " "),
    numpy=_mul_numpy, prec=2, transposed=lambda e, t: _entrywise_transposed(e, t),
    extra={"keeps_symmetry": True, "transpose_if_fewer": True})


# -- div: elementwise quotient ---------------------------------------------------------------
# The quotient rule over one divisor, as the textbook writes it: D(a / b)[v] = (Da − (a / b) ⊙ Db) / b
# (the sum of the two partials, t / b − (a / b) ⊙ t / b, would print as two fractions). Linear in
# a: transpose ct / b, matrix diag(vec(1 / b)) (1 / b for a scalar b).

def _div_jvp(e, ts):
    ta, tb = ts
    num = ta if tb is None else (-(e * tb) if ta is None else ta - e * tb)
    return num / e.args[1]


def _div_matrix(e, i):
    b = e.args[1]
    return 1 / b if is_scalar(b) else call("diag", call("vec", 1 / b))


_DIV_SHAPE = broadcast("divide elementwise")


def _div_build(args, params):
    """a / B with a scalar a and a matrix B broadcasts a; A / c is a scalar multiple; a
    broadcast divisor is its scalar (A / c𝟙 = A / c)."""
    dims = DIMS.get()
    shape = _DIV_SHAPE(dims, *(dims.shape(a.shape) for a in args))
    a, b = (x.args[0] if is_broadcast(x) else x for x in args)
    if not shape.is_scalar and is_scalar(a) and is_scalar(b):
        return broadcast_to(Call(DIV, (a, b), shape=a.shape), shape)
    return Call(DIV, (spread([a], shape)[0], b), shape=shape)


def _div_value(ev, e, a, b):
    if b.shape != a.shape and b.shape != (1, 1):
        raise ValueError(f"div of shapes {a.shape} and {b.shape}")
    return a / b


def _div_text(sym: str, divisor: int = 3):
    def pr(p, e):
        a, b = shown_bare(e.args)
        return f"{p.arg(a, 2)} {sym} {p.arg(b, divisor)}"
    return pr


def _div_numpy(em, e):
    a, b = shown_bare(e.args)
    return f"{em.arg(a, 2)} / {em.arg(b, 3)}", 2


DIV = declare(
        "div", shape=_DIV_SHAPE, build=_div_build, arity=2, numeric=_div_value, text=_div_text("/"),
        jvp=_div_jvp, linear=(0,), transpose=lambda e, i, ct: ct / e.args[1], matrix=_div_matrix,
        transposed=lambda e, t: call("div", t(e.args[0]), e.args[1]) if is_scalar(e.args[1]) else None,
        rule=("quotient rule", "D(a / b)[V] = (Da[V] − (a / b) ⊙ Db[V]) / b"),
        unicode=_div_text("/", 4),   # on paper the divisor is one factor: a / (log det A)
        latex=lambda p, e: rf"\frac{{{p(shown_bare(e.args)[0])}}}{{{p(e.args[1])}}}",
        numpy=_div_numpy, prec=2, domain=("any", "nonzero"))


# -- power: elementwise a ** p with a scalar exponent -------------------------------------------
# ∂_a(a^p)[t] = p a^(p−1) ⊙ t,  ∂_p(a^p)[t] = a^p ⊙ log(a) t

def _power_shape(dims, a: Shape, p: Shape) -> Shape:
    need_scalar(dims, p, "the exponent", 1)
    return a


def _power_base(e, t):
    a, p = e.args
    if isinstance(p, Const):
        return 2 * a * t if p.value == 2 else p * call("power", a, Const(p.value - 1)) * t
    return p * call("power", a, p - 1) * t


SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _power_unicode(p, e):
    a, k = e.args
    hadamard = "" if a.shape.is_scalar else "⊙"
    if isinstance(k, Const) and isinstance(k.value, int):
        return p.arg(a, 5) + hadamard + str(k.value).translate(SUPERSCRIPTS)
    return f"{p.arg(a, 5)}^{hadamard}({p(k)})"


def _power_latex(p, e):
    a, k = e.args
    sup = p(k) if a.shape.is_scalar else r"\circ " + p(k)
    return f"{p.arg(a, 5)}^{{{sup}}}"


declare("power", shape=_power_shape, arity=2,
        **smooth(_power_base, lambda e, t: e * call("log", e.args[0]) * t,
                 why="D(aᵖ)[V] = p aᵖ⁻¹ ⊙ Da[V] + aᵖ ⊙ log(a) Dp[V]"),
        numeric=lambda ev, e, a, k: ev.np.power(a, k[0, 0]),
        text=lambda p, e: f"{p.arg(e.args[0], 5)} ** {p.arg(e.args[1], 3)}",
        unicode=_power_unicode, latex=_power_latex,
        numpy=lambda em, e: (f"{em.arg(e.args[0], 9)} ** {em.arg(e.args[1], 4)}", 4),
        prec=4, domain=("power", "any"))


# -- constant matrices: eye(n), zeros(m, n), ones(m, n) -----------------------------------------

def _dims_text(name: str):
    return lambda p, e: f"{name}({', '.join(str(d) for d in e.params)})"


def _square_const_shape(dims, n):
    return Shape(n, n)


def _const_shape(dims, m, n):
    return Shape(m, n)


def _constant_build(name: str, value: int):
    """A constant matrix of size 1×1 is the number it holds: eye(1) = ones(1, 1) = 1."""
    def build(args, params):
        if all(d == 1 for d in params):
            return Const(value)
        return Call(OPS[name], (), params)
    return build


function("eye", spellings=("I", "identity"), arity=0, shape=_square_const_shape, build=_constant_build("eye", 1),
         **constant(), numeric=lambda ev, e: ev.np.eye(ev.size(e.params[0])), text=_dims_text("eye"), unicode=lambda p, e: "I",
         latex=lambda p, e: "I", numpy=lambda em, e: (f"np.eye({em.dim(e.params[0])})", 9),
         extra={"symmetric": True})
function("zeros", arity=0, shape=_const_shape, **constant(), build=_constant_build("zeros", 0),
         transposed=lambda e, t: call("zeros", params=(e.shape.cols, e.shape.rows)),
         numeric=lambda ev, e: ev.np.zeros(ev.shape(e)),
         text=_dims_text("zeros"), unicode=lambda p, e: "0", latex=lambda p, e: "0",
         numpy=lambda em, e: (f"np.zeros({_np_dims(em, e)})", 9))
function("ones", arity=0, shape=_const_shape, **constant(), build=_constant_build("ones", 1),
         transposed=lambda e, t: call("ones", params=(e.shape.cols, e.shape.rows)),
         numeric=lambda ev, e: ev.np.ones(ev.shape(e)),
         text=_dims_text("ones"),
         # 𝟙 a column, 𝟙ᵀ a row, 𝟙𝟙ᵀ a matrix (a product)
         unicode=lambda p, e: "𝟙" if e.shape.is_vector else "𝟙ᵀ" if e.shape.is_row else "𝟙𝟙ᵀ",
         extra={"paper_prec": lambda p, e: 2 if e.shape.rows != 1 and e.shape.cols != 1 else 9,
                "symmetric_if_square": True},
         latex=lambda p, e: r"\mathbf{1}" if e.shape.is_vector else r"\mathbf{1}^\top" if e.shape.is_row
         else r"\mathbf{1}\mathbf{1}^\top",
         numpy=lambda em, e: (f"np.ones({_np_dims(em, e)})", 9))


def _np_dims(em, e) -> str:
    """The run-time shape of `e` as a NumPy tuple: (n,) for a column, () for a scalar."""
    dims = [em.dim(d) for d in e.shape.numpy()]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})" if dims else "()"


# -- broadcast: a scalar spread over a shape ---------------------------------------------------
# linear: transpose ⟨ct, c𝟙𝟙ᵀ⟩ = c·sum(ct), so ct_c = sum(ct); matrix vec(c𝟙𝟙ᵀ) = vec(𝟙) c.
# Printed as c·𝟙 on its own; as the bare scalar beside a full operand of +, ⊙, / (x + c).

def _broadcast_shape(dims, s: Shape, rows, cols) -> Shape:
    need_scalar(dims, s, "a broadcast value", 0)
    return Shape(rows, cols)


def _broadcast_build(args, params):
    (x,) = args
    if params[0] == 1 and params[1] == 1:
        return x
    return Call(BROADCAST, (x,), params)


def _as_product(printer):
    """Print c·𝟙 (the broadcast's value) with the product's own printer; 1·𝟙 is 𝟙."""
    def pr(p, e):
        ones_ = call("ones", params=e.params)
        if e.args[0] == Const(1):
            return p(ones_)
        c = e.args[0]
        factors = c.args if isinstance(c, Call) and c.op is MUL else (c,)
        return printer(p, Call(MUL, (*factors, ones_), shape=e.shape))
    return pr


def _broadcast_numpy(em, e):
    if e.args[0] == Const(1):
        return f"np.ones({_np_dims(em, e)})", 9
    return f"np.full({_np_dims(em, e)}, {em.code(e.args[0])[0]})", 9


BROADCAST = declare(
    "broadcast", shape=_broadcast_shape, build=_broadcast_build, arity=1, prec=2,
    **linear(transpose=lambda e, i, ct: call("sum", ct),
             matrix=lambda e, i: call("ones", params=(vec_length(e.shape), 1))),
    numeric=lambda ev, e, x: ev.np.full(ev.shape(e), x[0, 0]),
    transposed=lambda e, t: broadcast_to(e.args[0], e.shape.T),
    text=_as_product(_mul_text), unicode=_as_product(_scaled_printer("⊙", "−", "")),
    latex=_as_product(_scaled_printer(r"\odot", "-", " ")),
    numpy=_broadcast_numpy,
    extra={"paper_prec": lambda p, e: 9 if e.args[0] == Const(1) else 2, "symmetric_if_square": True})


def broadcast_to(x, shape: Shape):
    """The scalar x spread over `shape` (x itself for a scalar shape)."""
    return call("broadcast", x, params=(shape.rows, shape.cols))


# -- size: a dim used as a number (n in sum(x + a) = sum(x) + n·a, tr(Iₙ) = n) -------------------

def _size_text(sep: str, bracket: bool = False):
    """n; a product of dims (the size of vec X) as m·n, or (m * n) where it must stay one factor."""
    def pr(p, e):
        factors = str(e.params[0]).split("·")
        out = sep.join(factors)
        return f"({out})" if bracket and len(factors) > 1 else out
    return pr


SIZE = declare(
    "size", shape=lambda dims, d: SCALAR, arity=0, **constant(),
    build=lambda args, params: Const(params[0]) if isinstance(params[0], int) else Call(SIZE, (), params),
    numeric=lambda ev, e: ev.np.full((1, 1), float(ev.size(e.params[0]))),
    text=_size_text(" * ", bracket=True), unicode=_size_text("·"), latex=_size_text(r" \cdot "),
    numpy=lambda em, e: (em.dim(e.params[0]), 2 if "·" in str(e.params[0]) else 9),   # m * n
    extra={"paper_prec": lambda p, e: 2 if "·" in str(e.params[0]) else 9})


def size(d):
    """The number a dim stands for, as a scalar expression (an int dim folds to a constant)."""
    return call("size", params=(d,))


def eye(n):
    return call("eye", params=(n,))


def zeros(shape: Shape):
    return call("zeros", params=tuple(shape))


def ones(shape: Shape):
    return call("ones", params=tuple(shape))
