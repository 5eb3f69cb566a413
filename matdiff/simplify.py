"""Rewrite to canonical textbook form: an ordered list of small named rules, each a pure
Expr → Expr | None whose docstring gives the identity and why it terminates. The engine
simplifies children first, applies the rules at a node until none fires, and asserts that
every rewrite keeps the shape."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

from .expr import Call, Const, Expr, Symbol, call
from .ops import broadcast_to, eye, ones, size, zeros
from .ops.arith import is_broadcast, split_negative

MAX_REWRITES = 200  # per node; every rule terminates, this only guards against a bad interplay


# The normal forms found by the simplification in progress. Two rules (expand_products,
# factor_common) simplify a candidate to compare its size; those nested calls share this memo,
# so that a node shared along a chain (softmax(softmax(x))) is simplified once, not once per path.
_IN_PROGRESS: list[dict] = []


def simplify(e: Expr) -> Expr:
    if _IN_PROGRESS:
        return _simplify(e, _IN_PROGRESS[-1])
    _IN_PROGRESS.append({})
    try:
        return _simplify(e, _IN_PROGRESS[-1])
    finally:
        _IN_PROGRESS.pop()


def _simplify(e: Expr, memo: dict) -> Expr:
    def go(node: Expr, budget: int = MAX_REWRITES) -> Expr:
        hit = memo.get(node)
        if hit is not None:
            return hit
        out = node
        if isinstance(node, Call):
            out = call(node.op, *(go(a) for a in node.args), params=node.params)
            if isinstance(out, Call) and out.op is not node.op and any(a not in memo for a in out.args):
                # the constructor made a new node (a product pulled out of a scalar multiple)
                out = call(out.op, *(go(a) for a in out.args), params=out.params)
        for _ in range(budget):
            for rule in RULES:
                new = rule(out)
                if new is not None and new != out:
                    assert new.shape == out.shape, f"{rule.__name__} changed {out.shape} to {new.shape}"
                    out = go(new, budget - 1) if isinstance(new, Call) and new is not out else new
                    break
            else:
                break
        memo[node] = out
        memo[out] = out
        return out

    return go(e)


# -- helpers ------------------------------------------------------------------------------------

def is_op(e: Expr, *names: str) -> bool:
    return isinstance(e, Call) and e.op.name in names


def rank(e: Expr) -> int:
    """Sorting rank in sums and entrywise products: numbers, then scalars, then the rest;
    the sort is stable, so within a rank the order of the derivation (and of the input) stays."""
    return 0 if isinstance(e, Const) else 1 if e.shape.is_scalar else 2


def split_coef(t: Expr) -> tuple:
    """t = c · rest with c a number: (c, rest), rest None for a constant."""
    if isinstance(t, Const):
        return t.value, None
    if is_op(t, "mul") and isinstance(t.args[0], Const):
        rest = t.args[1:]
        return t.args[0].value, rest[0] if len(rest) == 1 else call("mul", *rest)
    return 1, t


def scaled(c, rest: Expr | None) -> Expr:
    if rest is None:
        return Const(c)
    return rest if c == 1 else call("mul", Const(c), rest)


def _untransposed(e: Expr) -> Expr:
    """e with its transposes left out, for comparing terms only (A @ x and A.T @ x compare
    equal; the result need not be well-shaped). Structural, so linear in the size of the DAG,
    where its printed text can be exponentially long."""
    memo: dict[int, Expr] = {}
    for n in e.walk():
        if isinstance(n, Call):
            args = tuple(memo[id(a)] for a in n.args)
            memo[id(n)] = args[0] if n.op.name == "transpose" else Call.remade(n, args, n.params, n.shape)
        else:
            memo[id(n)] = n
    return memo[id(e)]


@lru_cache(maxsize=1 << 16)
def _transposes(e: Expr | None) -> int:
    """How many transposes a term holds: A + Aᵀ reads better than Aᵀ + A."""
    return 0 if e is None else sum(1 for n in e.walk() if is_op(n, "transpose"))


def zero_like(e: Expr) -> Expr:
    return Const(0) if e.shape.is_scalar else zeros(e.shape)


def fit(e: Expr, like: Expr) -> Expr:
    """Restore a shape lost by a cancellation (x/x = 𝟙 for a vector x) or by a sum whose terms
    were all broadcasts: the scalar is broadcast again."""
    if e.shape == like.shape:
        return e
    return broadcast_to(e, like.shape)


def is_zero(e: Expr) -> bool:
    return (isinstance(e, Const) and e.value == 0) or is_op(e, "zeros")


def is_symmetric(e: Expr) -> bool:
    if isinstance(e, Symbol):
        return bool(e.props & {"symmetric", "spd", "diagonal"})
    if is_op(e, "eye", "diag"):
        return True
    if is_op(e, "inv") or (is_op(e, "mul") and all(a.shape.is_scalar or is_symmetric(a) for a in e.args)):
        return all(a.shape.is_scalar or is_symmetric(a) for a in e.args)
    if is_op(e, "add"):
        return all(is_symmetric(a) for a in e.args)
    return is_op(e, "broadcast", "ones") and e.shape.rows == e.shape.cols


# -- rules ----------------------------------------------------------------------------------------

def fold_constants(e: Expr):
    """Arithmetic on numbers: 2 / 4 = 0.5, 3 ** 2 = 9, |−2| = 2, exp(0) = 1 (an entrywise
    function of a number, by the function's own numeric definition, where the result is an
    integer or the number itself up to sign; exp(1) and √2 stay as written),
    sum(c) = tr(c) = cᵀ = c for a scalar c. Terminates: the node count drops."""
    if not isinstance(e, Call):
        return None
    a = e.args
    if e.op.name in ("transpose", "sum", "trace") and a[0].shape.is_scalar:
        return a[0]
    if e.op.extra.get("elementwise") and isinstance(a[0], Const):
        return _fold_function(e)
    if e.op.name == "div" and isinstance(a[0], Const) and isinstance(a[1], Const) and a[1].value != 0:
        q = a[0].value / a[1].value
        if not math.isfinite(q):
            return None
        return Const(a[0].value // a[1].value if q == int(q) and isinstance(a[0].value, int)
                     and isinstance(a[1].value, int) else q)
    if e.op.name == "power" and isinstance(a[0], Const) and isinstance(a[1], Const):
        try:
            v = a[0].value ** a[1].value
            finite = isinstance(v, (int, float)) and math.isfinite(v)   # an int past float range overflows here
        except (OverflowError, ZeroDivisionError):
            return None
        return Const(v) if finite else None
    if e.op.name == "power" and isinstance(a[1], Const) and a[1].value == 1:
        return a[0]
    if e.op.name == "power" and isinstance(a[1], Const) and a[1].value == 0:
        return Const(1) if e.shape.is_scalar else ones(e.shape)
    return None


def _fold_function(e: Call) -> Const | None:
    import numpy as np
    from .evaluate import Evaluation
    with np.errstate(all="ignore"):
        v = float(e.op.numeric(Evaluation({}), e, np.full((1, 1), float(e.args[0].value)))[0, 0])
    exact = math.isfinite(v) and (v.is_integer() or abs(v) == abs(e.args[0].value))
    return Const(v) if exact else None


def push_transpose(e: Expr):
    """Transposes move through products and inverses toward the leaves: (AB)ᵀ = BᵀAᵀ, Xᵀᵀ = X,
    Aᵀ = A for symmetric A, (X⁻¹)ᵀ = (Xᵀ)⁻¹ (shown X⁻ᵀ), cᵀ = c for a scalar. A transposed sum
    stays whole, as the textbook writes it: (Wx − y)ᵀ, unless its terms are transposes
    themselves: (xᵀ − yᵀ)ᵀ = x − y.
    Terminates: each step moves a transpose strictly closer to the leaves, or removes some."""
    if not is_op(e, "transpose"):
        return None
    x = e.args[0]
    if x.shape.is_scalar or is_symmetric(x):
        return x
    if not isinstance(x, Call):
        return None
    name = x.op.name
    if name == "transpose":
        return x.args[0]
    if name == "matmul":
        return call("matmul", *(a.T for a in reversed(x.args)))
    if name == "mul" and any(a.shape.is_scalar for a in x.args):
        return call("mul", *(a if a.shape.is_scalar else a.T for a in x.args))
    if name == "div" and x.args[1].shape.is_scalar:
        return call("div", x.args[0].T, x.args[1])
    if name in ("add", "mul"):
        # (xᵀ − yᵀ)ᵀ = x − y; a sum whose transpose needs more transposes stays whole: (Wx − y)ᵀ
        pushed = call(name, *(_t(a) for a in x.args))
        if _transposes(pushed) < _transposes(e):
            return pushed
    if name == "inv":
        y = x.args[0]
        return call("inv", y.args[0] if is_op(y, "transpose") else y.T)
    if name in ("zeros", "ones"):
        return call(name, params=(x.shape.cols, x.shape.rows))
    if name == "broadcast":                # (c𝟙𝟙ᵀ)ᵀ = c𝟙𝟙ᵀ of the transposed shape
        return broadcast_to(x.args[0], x.shape.T)
    if name == "kron":                     # (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ
        return call("kron", _t(x.args[0]), _t(x.args[1]))
    return None


def collect_factors(e: Expr):
    """An entrywise monomial c · Π bᵢ^kᵢ: numbers multiplied into c (unless c would leave the
    floats: 1e200², 10⁴⁰⁰ stay as written), equal bases merged
    (x ⊙ x = x²; a x / a = x for a scalar a), x ⊙ 𝟙 = x, 0 ⊙ x = 0, quotients as one division,
    factors sorted. Terminates: a normal form, reached in one step."""
    if not is_op(e, "mul", "div"):
        return None
    coef = 1
    powers: dict[Expr, object] = {}

    def add(f: Expr, k) -> None:
        nonlocal coef
        if isinstance(f, Const):
            if f.value == 0 and k < 0:
                powers[f] = powers.get(f, 0) + k
            else:
                coef *= f.value ** k
        elif is_op(f, "mul"):
            for a in f.args:
                add(a, k)
        elif is_op(f, "div"):
            add(f.args[0], k)
            add(f.args[1], -k)
        elif is_op(f, "power") and isinstance(f.args[1], Const) and (
                isinstance(f.args[1].value, int) and isinstance(k, int)
                or k == 1 and not isinstance(f.args[0], Const) and not is_op(f.args[0], "mul", "div", "broadcast")):
            # a fractional power does not split a product: (−a)^½ is not (−1)^½ a^½ over the reals,
            # nor (−a𝟙)^½, a broadcast product, whose number would come out as (−1)^½ too
            add(f.args[0], f.args[1].value * k)
        elif is_op(f, "ones") and k > 0:
            pass                       # x ⊙ 𝟙 = x; a product of scalars alone is spread again by fit
        elif is_broadcast(f):
            add(f.args[0], k)          # c𝟙 ⊙ x = c·x
        else:
            powers[f] = powers.get(f, 0) + k

    try:
        add(e, 1)
        representable = math.isfinite(coef)
    except OverflowError:
        representable = False
    if not representable:   # 1e200 ** 2, 10 ** 400: past float range the numbers stay as written
        return None
    if coef == 0:
        return zero_like(e)
    if isinstance(coef, float) and coef.is_integer():
        coef = int(coef)

    def term(b, k):
        return b if k == 1 else call("power", b, Const(k))

    items = sorted(((b, k) for b, k in powers.items() if k != 0), key=lambda bk: rank(bk[0]))
    num = [term(b, k) for b, k in items if k > 0]
    den = [term(b, -k) for b, k in items if k < 0]
    head = [Const(coef)] if coef != 1 or not num else []
    top = call("mul", *head, *num)
    out = call("div", top, call("mul", *den)) if den else top
    return fit(out, e)


def collect_terms(e: Expr):
    """Like terms merge: 2A + 3A = 5A, x − x = 0, tr(AB) + tr(BA) = 2 tr(AB) (a trace of a
    product is compared in its canonical rotation); zero terms go; positive terms before negative
    ones, numbers last, a term before its transpose (A + Aᵀ), otherwise in order of first
    appearance.
    Terminates: a normal form, reached in one step."""
    if not is_op(e, "add"):
        return None
    acc: dict = {}
    shown: dict = {}
    wide = sum(1 for t in e.args if not t.shape.is_scalar and not _is_ones_term(t) and not is_broadcast(t)) > 0
    for t in e.args:
        if is_broadcast(t):
            t = t.args[0]   # collected as the scalar it spreads; the constructor spreads the result again
        if is_zero(t):
            continue
        c, rest = split_coef(t)
        if wide and is_op(rest, "ones"):
            rest = None   # 𝟙 + log x is 1 + log x: the other terms give the shape
        key = _term_key(rest)
        shown.setdefault(key, rest)
        acc[key] = acc.get(key, 0) + c
    terms = [(c, shown[k]) for k, c in acc.items() if c != 0]
    terms.sort(key=lambda cr: (cr[0] < 0, cr[1] is None))
    for i in range(len(terms)):          # a term before its transpose: A + Aᵀ, not Aᵀ + A
        for j in range(i + 1, len(terms)):
            a, b = terms[i][1], terms[j][1]
            if a is not None and b is not None and _transposes(a) > _transposes(b) and \
                    _untransposed(a) == _untransposed(b) and (terms[i][0] < 0) == (terms[j][0] < 0):
                terms[i], terms[j] = terms[j], terms[i]
    if not terms:
        return zero_like(e)
    out = call("add", *(scaled(c, r) for c, r in terms))
    if wide is False and not e.shape.is_scalar:   # only broadcasts and 𝟙s: (a + b)𝟙, one broadcast
        return broadcast_to(call("add", *(scaled(c, r if r is not None and not is_op(r, "ones") else None)
                                          for c, r in terms)), e.shape)
    return fit(out, e)


def _term_key(e: Expr | None):
    """What like terms are compared by: traces up to rotation, and a scalar product up to
    transposition (vᵀx = xᵀv). Keys are sets of equal forms, compared structurally."""
    if is_op(e, "matmul") and e.shape.is_scalar:
        return frozenset((e, _t(e)))
    return _trace_key(e)


def _is_ones_term(t: Expr) -> bool:
    return is_op(split_coef(t)[1], "ones")


def _trace_key(e: Expr | None):
    """tr(F₁⋯Fₖ) up to rotation and transposition, tr(ABC) = tr(BCA) = tr(CAB) = tr(CᵀBᵀAᵀ): the
    set of those factor sequences. Other expressions are their own key."""
    if not (is_op(e, "trace") and is_op(e.args[0], "matmul")):
        return e
    forms = (e.args[0].args, tuple(_t(x) for x in reversed(e.args[0].args)))   # tr(M) = tr(Mᵀ)
    return ("trace", frozenset(f[i:] + f[:i] for f in forms for i in range(len(f))))


def _t(x: Expr) -> Expr:
    """xᵀ with the transpose pushed all the way (the same identities as push_transpose)."""
    if x.shape.is_scalar and not is_op(x, "matmul") or is_symmetric(x):
        return x
    if not isinstance(x, Call):
        return x.T
    name = x.op.name
    if name == "transpose":
        return x.args[0]
    if name == "matmul":
        return call("matmul", *(_t(a) for a in reversed(x.args)))
    if name in ("add", "mul"):
        pushed = call(name, *(a if a.shape.is_scalar else _t(a) for a in x.args))
        return pushed if _transposes(pushed) <= _transposes(x) else x.T   # (x − m)ᵀ stays whole
    if name == "div" and x.args[1].shape.is_scalar:
        return call("div", _t(x.args[0]), x.args[1])
    if name == "inv":
        return call("inv", _t(x.args[0]))
    if name in ("zeros", "ones"):
        return call(name, params=(x.shape.cols, x.shape.rows))
    if name == "broadcast":
        return broadcast_to(x.args[0], x.shape.T)
    if name == "kron":
        return call("kron", _t(x.args[0]), _t(x.args[1]))
    return x.T


def simplify_matmul(e: Expr):
    """Identity and zero factors: A I = A, A (I ⊗ I) = A, A 0 = 0; 𝟙ᵀx = xᵀ𝟙 = sum(x); 𝟙𝟙ᵀ = 𝟙ₘₓₙ;
    diag(a) diag(b) = diag(a ⊙ b),
    𝟙ᵀ diag(u) = uᵀ, diag(u) 𝟙 = u; inverse pairs: X⁻¹ X = I, and
    L (Q L)⁻¹ = Q⁻¹, (L Q)⁻¹ L = … for square factors (Cookbook 18).
    Terminates: the number of factors drops."""
    if not is_op(e, "matmul"):
        return None
    a = list(e.args)
    if any(is_zero(f) for f in a):
        return zero_like(e)
    kept = [f for f in a if not (is_op(f, "eye") or _is_kron_identity(f) or
                                 (is_op(f, "commutation") and 1 in f.params))]   # K(m,1) = I
    for i, f in enumerate(kept):
        if is_op(f, "add") and all(split_negative(t)[0] for t in f.args):   # A(−B − C) = −A(B + C)
            kept[i] = -call("add", *(split_negative(t)[1] for t in f.args))
            return call("matmul", *kept)
    for i in range(len(kept) - 1):
        l, r = kept[i], kept[i + 1]
        if (is_op(l, "inv") and l.args[0] == r) or (is_op(r, "inv") and r.args[0] == l):
            kept[i:i + 2] = [eye(l.shape.rows)] if len(kept) == 2 else []
            return call("matmul", *kept) if kept else eye(e.shape.rows)
        if is_op(l, "transpose") and is_op(l.args[0], "vec") and is_op(r, "kron"):
            # vec(A)ᵀ (P ⊗ Q) = vec(Qᵀ A P)ᵀ   (Cookbook 520, transposed)
            a_, (p_, q_) = l.args[0].args[0], r.args
            if q_.shape.rows == a_.shape.rows and p_.shape.rows == a_.shape.cols:
                kept[i:i + 2] = [call("vec", _t(q_) @ a_ @ p_).T]
                return call("matmul", *kept)
        if len(kept) == 2 and is_op(l, "ones") and l.shape.rows == 1 and r.shape.cols == 1:
            return call("sum", r)                           # 𝟙ᵀx = sum(x)
        if is_op(l, "ones") and is_op(r, "ones") and l.shape.cols == 1:
            kept[i:i + 2] = [ones((l.shape.rows, r.shape.cols))]   # 𝟙ₘ𝟙ₙᵀ = the m×n matrix of ones
            return call("matmul", *kept) if len(kept) > 1 else kept[0]
        if len(kept) == 2 and is_op(r, "ones") and r.shape.cols == 1 and l.shape.rows == 1:
            return call("sum", l)                           # xᵀ𝟙 = sum(x)
        if is_op(l, "kron") and is_op(r, "kron") and _conform(l.args[0], r.args[0]) and _conform(l.args[1], r.args[1]):
            kept[i:i + 2] = [call("kron", l.args[0] @ r.args[0], l.args[1] @ r.args[1])]   # (A⊗B)(C⊗D) = AC⊗BD
            return call("matmul", *kept)
        for a_, b_, left in ((l, r, True), (r, l, False)):
            # (A ⊗ B)(C ⊗ D + E ⊗ F): the product distributes, then each pair multiplies as above
            if is_op(a_, "kron") and is_op(b_, "add") and all(is_op(split_scalars(t)[1], "kron") for t in b_.args):
                spread = call("add", *((a_ @ t) if left else (t @ a_) for t in b_.args))
                kept[i:i + 2] = [spread]
                return call("matmul", *kept) if len(kept) > 1 else spread
        if is_op(l, "diag") and is_op(r, "diag"):          # diag(a) diag(b) = diag(a ⊙ b)
            kept[i:i + 2] = [call("diag", l.args[0] * r.args[0])]
            return call("matmul", *kept)
        if is_op(l, "ones") and l.shape.rows == 1 and is_op(r, "diag"):   # 𝟙ᵀ diag(u) = uᵀ
            kept[i:i + 2] = [r.args[0].T]
            return call("matmul", *kept)
        if is_op(l, "diag") and is_op(r, "ones") and r.shape.cols == 1:   # diag(u) 𝟙 = u
            kept[i:i + 2] = [l.args[0]]
            return call("matmul", *kept)
        # L (P L)⁻¹ = P⁻¹ and (L P)⁻¹ L... : (Q Z)⁻¹ = Z⁻¹ Q⁻¹ for square Q, Z, so a neighbour cancels
        if is_op(r, "inv") and is_op(r.args[0], "matmul") and r.args[0].args[-1] == l and _square_split(r.args[0], -1):
            kept[i:i + 2] = [call("inv", call("matmul", *r.args[0].args[:-1]))]
            return call("matmul", *kept)
        if is_op(l, "inv") and is_op(l.args[0], "matmul") and l.args[0].args[0] == r and _square_split(l.args[0], 0):
            kept[i:i + 2] = [call("inv", call("matmul", *l.args[0].args[1:]))]
            return call("matmul", *kept)
    if len(kept) == len(a):
        return None
    return call("matmul", *kept) if kept else eye(e.shape.rows)


def _is_one(e: Expr) -> bool:
    """1, or 1 broadcast over a shape."""
    return e == Const(1) or is_broadcast(e) and e.args[0] == Const(1) or is_op(e, "ones")


def _conform(a: Expr, b: Expr) -> bool:
    return a.shape.cols == b.shape.rows


def _is_kron_identity(f: Expr) -> bool:
    return is_op(f, "kron") and all(is_op(a, "eye") for a in f.args)


def _square_split(product: Expr, end: int) -> bool:
    """Both the end factor and the rest of the product are square (so each has an inverse)."""
    f = product.args[end]
    rest = product.args[:-1] if end == -1 else product.args[1:]
    return f.shape.rows == f.shape.cols and rest[0].shape.rows == rest[-1].shape.cols


def split_scalars(t: Expr) -> tuple:
    """t = s · rest with s a product of scalar factors (numbers and scalar expressions):
    (list of the scalar factors, rest)."""
    if is_op(t, "mul"):
        scalars = [a for a in t.args if a.shape.is_scalar]
        rest = [a for a in t.args if not a.shape.is_scalar]
        if scalars and len(rest) == 1:
            return scalars, rest[0]
    return [], t


def factor_terms(e: Expr):
    """Common factors of products come out of a sum: A x + Aᵀx = (A + Aᵀ)x, B A + B C = B(A + C),
    s·u vᵀ − y vᵀ = (s·u − y)vᵀ with scalar coefficients riding along.
    Terminates: the number of terms of the sum drops."""
    if not is_op(e, "add"):
        return None
    terms = e.args
    for side in (-1, 0):
        groups: dict[Expr, list[int]] = {}
        for i, t in enumerate(terms):
            _, rest = split_scalars(t)
            if is_op(rest, "matmul") and t.shape == e.shape:   # not a scalar the sum broadcasts
                groups.setdefault(rest.args[side], []).append(i)
        for key, idx in groups.items():
            if len(idx) < 2:
                continue
            inner = []
            for i in idx:
                scalars, rest = split_scalars(terms[i])
                others = rest.args[:-1] if side == -1 else rest.args[1:]
                inner.append(call("mul", *scalars, call("matmul", *others)))
            shared = call("add", *inner)
            new = call("matmul", shared, key) if side == -1 else call("matmul", key, shared)
            return call("add", *(t for i, t in enumerate(terms) if i not in idx), new)
    return None


def merge_diagonals(e: Expr):
    """diag(a) + c·diag(b) = diag(a + c·b), one diagonal matrix instead of two.
    Terminates: the number of terms of the sum drops."""
    if not is_op(e, "add"):
        return None
    # by position, not keyed by term: diag(x) + diag(x) + diag(y) holds diag(x) twice
    args = [_diag_arg(t) for t in e.args]
    diags = [d for d in args if d is not None]
    if len(diags) < 2:
        return None
    merged = call("diag", call("add", *diags))
    return call("add", *(t for t, d in zip(e.args, args, strict=True) if d is None), merged)


def _diag_arg(t: Expr) -> Expr | None:
    """a for diag(a), c·a for c·diag(a), else None."""
    scalars, rest = split_scalars(t)
    if not is_op(rest, "diag"):
        return None
    return call("mul", *scalars, rest.args[0]) if scalars else rest.args[0]


def factor_scalars(e: Expr):
    """Scalar factors common to every term come out: 2s·A + 2s·B = 2s·(A + B), with s a scalar
    expression (not only a number). Terminates: the terms of the sum lose factors."""
    if not is_op(e, "add") or e.shape.is_scalar:
        return None
    split = [split_scalars(t) for t in e.args]
    if any(not scalars for scalars, _ in split):
        return None
    # a multiset: a·a·A + a·B shares one a, not two
    shared = Counter(f for f in split[0][0] if not isinstance(f, Const))
    for scalars, _ in split[1:]:
        shared &= Counter(scalars)
    common = list(shared.elements())
    coef = split[0][0][0] if isinstance(split[0][0][0], Const) else None
    same_coef = coef is not None and all(s and s[0] == coef for s, _ in split)
    if not common and not (same_coef and coef.value not in (1, -1)):
        return None
    pulled = common + ([coef] if same_coef else [])
    terms = []
    for scalars, rest in split:
        left = list(scalars)
        for f in pulled:
            left.remove(f)
        terms.append(call("mul", *left, rest) if left else rest)
    return call("mul", *pulled, call("add", *terms))


def expand_products(e: Expr):
    """Products of sums are multiplied out when that makes the sum smaller:
    (1 − y) ⊙ s − y ⊙ (1 − s) = s − y. A scalar sum scaling a matrix stays the coefficient it
    is ((α − 1)·AB, the form factor_terms makes). Terminates: only a strictly smaller result
    is taken."""
    if not is_op(e, "add") or len(e.args) > 8:
        return None
    if not any(_entrywise_sums(t) for t in e.args):
        return None
    terms = [p for t in e.args for p in _multiply_out(t)]
    if len(terms) > 16:
        return None
    candidate = simplify(call("add", *terms))
    return candidate if _size(candidate) < _size(e) else None


def _entrywise_sums(t: Expr) -> list[Expr]:
    """The factors of an entrywise product that are sums of the product's own shape."""
    if not is_op(t, "mul"):
        return []
    return [a for a in t.args if is_op(a, "add") and (a.shape == t.shape)]


def _multiply_out(t: Expr) -> list[Expr]:
    """The terms of an entrywise product of sums: (a + b) ⊙ c = a ⊙ c + b ⊙ c."""
    sums = _entrywise_sums(t)
    if not sums:
        return [t]
    parts: list[list[Expr]] = [[]]
    for a in t.args:
        parts = [p + [b] for p in parts for b in a.args] if a in sums else [p + [a] for p in parts]
    return [call("mul", *p) for p in parts]


def _size(e: Expr) -> int:
    """Nodes as the textbook form shows them: a broadcast scalar is written bare (1 − s)."""
    return sum(1 for n in e.walk() if not is_broadcast(n))


def factor_common(e: Expr):
    """Entrywise factors shared by every term come out when the sum gets smaller:
    s ⊙ (1 − s)² − s² ⊙ (1 − s) = s ⊙ (1 − s) ⊙ (1 − 2s).
    Terminates: only a strictly smaller result is taken."""
    if not is_op(e, "add") or len(e.args) > 6 or e.shape.is_scalar:
        return None
    powers = [_monomial(t) for t in e.args]
    common = {b: min(p.get(b, 0) for p in powers) for b in powers[0]}
    common = {b: k for b, k in common.items() if k > 0}
    if not common:
        return None
    shared = call("mul", *(b if k == 1 else call("power", b, Const(k)) for b, k in common.items()))
    rest = simplify(call("add", *(t / shared for t in e.args)))
    candidate = call("mul", shared, rest)
    return candidate if _size(candidate) < _size(e) and candidate.shape == e.shape else None


def _monomial(t: Expr) -> dict:
    """The non-numeric entrywise factors of a term, with their whole powers."""
    out: dict = {}
    for f in (t.args if is_op(t, "mul") else (t,)):
        if isinstance(f, Const):
            continue
        if is_op(f, "power") and isinstance(f.args[1], Const) and isinstance(f.args[1].value, int):
            out[f.args[0]] = out.get(f.args[0], 0) + f.args[1].value
        else:
            out[f] = out.get(f, 0) + 1
    return out


def distribute_constant(e: Expr):
    """c (a₁ + … + aₖ) = c a₁ + … + c aₖ when every term then has coefficient ±1
    (½(2X⁻¹ − 2S) = X⁻¹ − S); otherwise the factored form stays (2(x − y)).
    Terminates: the constant factor disappears."""
    if not (is_op(e, "mul") and len(e.args) == 2 and isinstance(e.args[0], Const) and is_op(e.args[1], "add")):
        return None
    c = e.args[0].value
    parts = [split_coef(t) for t in e.args[1].args]
    if all(r is not None and abs(c * k) == 1 for k, r in parts):
        return call("add", *(scaled(c * k, r) for k, r in parts))
    return None


def recognize_functions(e: Expr):
    """log(1 + exp(z)) = softplus(z); log(exp(z)) = z; diag(diag(x)) = x; diag(𝟙) = I;
    diag(u vᵀ) = u ⊙ v; vec(x) = x for a column; tr(I) = n; sum(a ⊙ b) = aᵀb for columns;
    tr and sum distribute over sums, and they and vec let scalar factors out (linear).
    Terminates: the node count drops."""
    if is_op(e, "log"):
        x = e.args[0]
        if is_op(x, "exp"):
            return x.args[0]
        if is_op(x, "add") and len(x.args) == 2:
            one = [i for i, t in enumerate(x.args) if _is_one(t)]
            other = x.args[1 - one[0]] if one else None
            if is_op(other, "exp"):
                return call("softplus", other.args[0])
    if is_op(e, "diagonal") and is_op(e.args[0], "diag"):
        return e.args[0].args[0]
    if is_op(e, "vec") and e.args[0].shape.cols == 1:
        return e.args[0]
    if is_op(e, "vec") and is_op(e.args[0], "ones"):   # vec(𝟙𝟙ᵀ) = 𝟙
        return ones(e.shape)
    scaled_arg = isinstance(e, Call) and [i for i, a in enumerate(e.args) if i in _linear_args(e) and is_op(a, "mul")
                  and any(f.shape.is_scalar for f in a.args) and not a.shape.is_scalar]
    if scaled_arg:   # an op linear in an argument lets its scalar factors out: vec(cA) = c vec(A), …
        i = scaled_arg[0]
        inner = e.args[i].args
        rest = [a for a in inner if not a.shape.is_scalar]
        arg = rest[0] if len(rest) == 1 else call("mul", *rest)
        return call("mul", *(a for a in inner if a.shape.is_scalar),
                    call(e.op, *e.args[:i], arg, *e.args[i + 1:], params=e.params))
    if is_op(e, "sum") and is_op(e.args[0], "mul") and len(e.args[0].args) == 2 \
            and all(a.shape.is_vector for a in e.args[0].args):
        a, b = e.args[0].args                           # sum(a ⊙ b) = aᵀb for columns, the smaller one transposed
        if _size(b) < _size(a):
            a, b = b, a
        return call("matmul", _t(a), b)
    if is_op(e, "diag") and is_op(e.args[0], "ones"):
        return eye(e.shape.rows)
    if is_op(e, "diagonal") and is_op(e.args[0], "matmul"):
        u, *rest = e.args[0].args
        if u.shape.is_vector:   # diag(u vᵀ) = u ⊙ v
            return u * _t(call("matmul", *rest))
    if is_op(e, "trace", "sum") and is_op(e.args[0], "transpose"):   # sum(Xᵀ) = sum(X), tr(Xᵀ) = tr(X)
        return call(e.op, e.args[0].args[0])
    if is_op(e, "trace", "sum") and is_op(e.args[0], "add"):
        return call("add", *(call(e.op, t) for t in e.args[0].args))
    return None


def _linear_args(e: Call) -> tuple:
    """The arguments a scalar factor comes out of, for an op that declares it (`scalars_out`:
    sum, trace, vec, kron, …, linear in those arguments); diag keeps its scalars inside, as
    the textbook writes diag(−x / y²)."""
    if not e.op.extra.get("scalars_out"):
        return ()
    return tuple(range(len(e.args))) if e.op.linear in ("multi", "all") else e.op.linear


def contract_blocks(e: Expr):
    """The Kronecker adjoints on a Kronecker product or a broadcast: blockdot(A ⊗ B′, B) =
    ⟨B′, B⟩ A and blocksum(A, A′ ⊗ B) = ⟨A, A′⟩ B for factors of matching shapes;
    blockdot(c𝟙, B) = c·sum(B) 𝟙, blocksum(A, c𝟙) = c·sum(A) 𝟙; unvec(vec(X)) = X.
    Terminates: the adjoint disappears."""
    if is_op(e, "unvec") and is_op(e.args[0], "vec") and e.args[0].args[0].shape == e.shape:
        return e.args[0].args[0]
    if not is_op(e, "blockdot", "blocksum"):
        return None
    weights, whole = (e.args[1], e.args[0]) if is_op(e, "blockdot") else e.args
    if is_broadcast(whole):
        return broadcast_to(whole.args[0] * call("sum", weights), e.shape)
    if is_op(whole, "kron"):
        a, b = whole.args
        if is_op(e, "blockdot") and b.shape == weights.shape:
            return call("sum", b * weights) * a
        if is_op(e, "blocksum") and a.shape == weights.shape:
            return call("sum", a * weights) * b
    return None


def reduce_broadcasts(e: Expr):
    """What a broadcast scalar c𝟙𝟙ᵀ (m×n) does under the ops that are not elementwise, with the
    sizes as numbers: sum(c𝟙𝟙ᵀ) = m·n·c, tr(c𝟙𝟙ᵀ) = n·c, tr(Iₙ) = sum(Iₙ) = n, sum(𝟙𝟙ᵀ) = m·n,
    A (c𝟙𝟙ᵀ) = c·A𝟙𝟙ᵀ, vec(c𝟙𝟙ᵀ) = c𝟙, diag(c𝟙) = c·I, diag(c𝟙𝟙ᵀ) = c𝟙, f(c𝟙) = f(c)𝟙 for an
    entrywise f, (c𝟙)ᵖ = cᵖ𝟙. Terminates: a broadcast moves up past the op, or the op goes."""
    if not isinstance(e, Call) or not e.args:
        return None
    x = e.args[0]
    name = e.op.name
    if name == "sum" and is_op(x, "broadcast", "ones", "eye"):
        scale = size(x.shape.rows) if is_op(x, "eye") else size(x.shape.rows) * size(x.shape.cols)
        return scale * x.args[0] if is_broadcast(x) else scale
    if name == "trace" and is_op(x, "broadcast", "ones", "eye"):
        return size(x.shape.rows) * x.args[0] if is_broadcast(x) else size(x.shape.rows)
    if not is_broadcast(x) and not (name == "matmul" and any(is_broadcast(a) for a in e.args)):
        return None
    if name == "matmul":
        factors = []
        for f in e.args:
            if is_broadcast(f):     # c𝟙𝟙ᵀ = c · 𝟙 (m×1) 𝟙ᵀ (1×n), the matmul takes c out
                m, n = f.shape
                parts = [ones((m, 1))] if m != 1 else []
                parts += [ones((1, n))] if n != 1 else []
                factors.append(f.args[0] * (parts[0] if len(parts) == 1 else call("matmul", *parts)))
            else:
                factors.append(f)
        return call("matmul", *factors)
    c = x.args[0]
    if name == "vec":
        return broadcast_to(c, e.shape)
    if name == "diag":
        return c * eye(e.shape.rows)
    if name == "diagonal":
        return broadcast_to(c, e.shape)
    if name == "power":
        return broadcast_to(call("power", c, e.args[1]), e.shape)
    if e.op.extra.get("elementwise"):
        return broadcast_to(call(e.op, c), e.shape)
    return None


RULES = (fold_constants, push_transpose, reduce_broadcasts, contract_blocks, recognize_functions, collect_factors, collect_terms,
         simplify_matmul, merge_diagonals, distribute_constant, factor_common, expand_products,
         factor_scalars, factor_terms)
