"""Sums, elementwise products and quotients, powers, negation, and the constant matrices
(identity, zeros, ones). Scalars broadcast in +, *, / as in NumPy."""

from __future__ import annotations

import math

from ..expr import DIMS, Call, Const, Symbol, call, is_scalar
from ..shapes import Shape
from .base import broadcast, declare, function, need_scalar


def _flatten(op_name: str, args) -> list:
    out = []
    for a in args:
        if isinstance(a, Call) and a.op.name == op_name:
            out.extend(a.args)
        else:
            out.append(a)
    return out


def _broadcast_ct(arg, node, ct):
    """Cotangent of an argument that was broadcast from a scalar: sum the output cotangent."""
    if is_scalar(arg) and not is_scalar(node):
        return call("sum", ct)
    return ct


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
    return args[0] if len(args) == 1 else Call(ADD, args, shape=shape)


def _add_jvp(e, ts):
    terms = [t for t in ts if t is not None]
    return call("add", *terms) if terms else None


def _sum_printer(minus: str):
    def pr(p, e):
        out = []
        for i, t in enumerate(e.args):
            neg, body = split_negative(t)
            if i == 0:
                out.append(p.arg(t, 1) if not neg or p.style == "text" else minus.strip() + p.arg(body, 2))
            elif neg:
                out.append(f" {minus} " + p.arg(body, 2))
            else:
                out.append(" + " + p.arg(t, 1))
        return "".join(out)
    return pr


ADD = declare(
    "add", shape=_ADD_SHAPE, build=_add_build, jvp=_add_jvp, linear="all",
    transpose=lambda e, i, ct: _broadcast_ct(e.args[i], e, ct),
    text=_sum_printer("-"), unicode=_sum_printer("−"), latex=_sum_printer("-"),
    numpy=lambda e, a: " + ".join(a), prec=1)


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
    args = _flatten("mul", args)
    numbers = [a for a in args if isinstance(a, Const)]
    if len(numbers) > 1 or (numbers and numbers[0] is not args[0]):
        value = 1
        for c in numbers:       # numbers multiply and lead: x * 2 * 3 = 6 * x
            value *= c.value
        if math.isfinite(value):   # 1e308 * 10 stays as written rather than becoming inf
            rest = [a for a in args if not isinstance(a, Const)]
            args = ([Const(value)] if value != 1 or not rest else []) + rest
    return args[0] if len(args) == 1 else Call(MUL, args, shape=shape)


def _product_rule(e, ts):
    terms = [call(e.op, *e.args[:i], t, *e.args[i + 1:]) for i, t in enumerate(ts) if t is not None]
    return call("add", *terms) if terms else None


def _mul_transpose(e, i, ct):
    others = e.args[:i] + e.args[i + 1:]
    return _broadcast_ct(e.args[i], e, call("mul", ct, *others))


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


MUL = declare(
    "mul", shape=_MUL_SHAPE, build=_mul_build, jvp=_product_rule,
    linear="multi", transpose=_mul_transpose, text=_mul_text,
    unicode=_scaled_printer("⊙", "−", ""), latex=_scaled_printer(r"\odot", "-", " "),
    numpy=lambda e, a: " * ".join(a), prec=2)


# -- div: elementwise quotient ---------------------------------------------------------------
# D(a / b)[v] = (Da[v] − (a / b) ⊙ Db[v]) / b; linear in a: transpose ct / b.

def _div_jvp(e, ts):
    ta, tb = ts
    a, b = e.args
    num = ta if tb is None else (-(e * tb) if ta is None else ta - e * tb)
    return num / b


def _div_transpose(e, i, ct):
    return _broadcast_ct(e.args[0], e, ct / e.args[1])


def _div_text(sym: str, divisor: int = 3):
    return lambda p, e: f"{p.arg(e.args[0], 2)} {sym} {p.arg(e.args[1], divisor)}"


declare("div", shape=broadcast("divide elementwise"), arity=2, jvp=_div_jvp, linear=(0,),
        transpose=_div_transpose, text=_div_text("/"),
        unicode=_div_text("/", 4),   # on paper the divisor is one factor: a / (log det A)
        latex=lambda p, e: rf"\frac{{{p(e.args[0])}}}{{{p(e.args[1])}}}",
        numpy=lambda e, a: f"{a[0]} / {a[1]}", prec=2, domain=("any", "nonzero"))


# -- power: elementwise a ** p with a scalar exponent -------------------------------------------
# D(a^p)[v] = p a^(p−1) ⊙ Da[v] + a^p ⊙ log(a) Dp[v]

def _power_shape(dims, a: Shape, p: Shape) -> Shape:
    need_scalar(dims, p, "the exponent", 1)
    return a


def _power_jvp(e, ts):
    a, p = e.args
    ta, tp = ts
    out = []
    if ta is not None:
        if isinstance(p, Const):
            if p.value == 2:
                out.append(2 * a * ta)
            else:
                out.append(p * call("power", a, Const(p.value - 1)) * ta)
        else:
            out.append(p * call("power", a, p - 1) * ta)
    if tp is not None:
        out.append(e * call("log", a) * tp)
    return call("add", *out)


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


declare("power", shape=_power_shape, arity=2, jvp=_power_jvp,
        text=lambda p, e: f"{p.arg(e.args[0], 5)} ** {p.arg(e.args[1], 3)}",
        unicode=_power_unicode, latex=_power_latex,
        numpy=lambda e, a: f"{a[0]} ** {a[1]}", prec=4, domain=("power", "any"))


# -- constant matrices: eye(n), zeros(m, n), ones(m, n) -----------------------------------------

def _dims_text(name: str):
    return lambda p, e: f"{name}({', '.join(str(d) for d in e.params)})"


def _square_const_shape(dims, n):
    return Shape(n, n)


def _const_shape(dims, m, n):
    return Shape(m, n)


function("eye", spellings=("I", "identity"), arity=0, shape=_square_const_shape,
         jvp=lambda e, ts: None, text=_dims_text("eye"), unicode=lambda p, e: "I",
         latex=lambda p, e: "I", numpy=lambda e, a: f"np.eye({e.params[0]})")
function("zeros", arity=0, shape=_const_shape, jvp=lambda e, ts: None,
         text=_dims_text("zeros"), unicode=lambda p, e: "0", latex=lambda p, e: "0",
         numpy=lambda e, a: f"np.zeros({_np_dims(e)})")
function("ones", arity=0, shape=_const_shape, jvp=lambda e, ts: None,
         text=_dims_text("ones"), unicode=lambda p, e: "𝟙" if e.shape.is_vector else "𝟙𝟙ᵀ",
         extra={"paper_prec": lambda p, e: 9 if e.shape.is_vector else 2},   # 𝟙𝟙ᵀ is a product
         latex=lambda p, e: r"\mathbf{1}" if e.shape.is_vector else r"\mathbf{1}\mathbf{1}^\top",
         numpy=lambda e, a: f"np.ones({_np_dims(e)})")


def _np_dims(e) -> str:
    dims = [str(d).replace("·", " * ") for d in e.shape.numpy()]   # m·n, the size of vec(X), is m * n
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})" if dims else "()"


def eye(n):
    return call("eye", params=(n,))


def zeros(shape: Shape):
    return call("zeros", params=tuple(shape))


def ones(shape: Shape):
    return call("ones", params=tuple(shape))
