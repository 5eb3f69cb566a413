"""Rules at a sum or an entrywise product: the two normal forms (a monomial c · Π bᵢ^kᵢ, a sum
of like terms merged and ordered), and the factorings and expansions that make a sum smaller
((A + Aᵀ)x, 2s·(A + B), s ⊙ (1 − s) ⊙ (1 − 2s))."""

from __future__ import annotations

import math
from collections import Counter

from ..expr import Const, Expr, call
from ..ops import broadcast_to
from ..ops.arith import is_broadcast
from .engine import rule
from .forms import (factor_rank, fit, is_op, is_zero, order_terms, scaled, split_coef,
                    split_scalars, term_key, zero_like)

# -- the normal forms ---------------------------------------------------------------------------


@rule("mul", "div")
def collect_factors(e: Expr):
    """An entrywise monomial c · Π bᵢ^kᵢ: numbers multiplied into c (unless c would leave the
    floats: 1e200², 10⁴⁰⁰ stay as written), equal bases merged (x ⊙ x = x²; a x / a = x for a
    scalar a), x ⊙ 𝟙 = x, c𝟙 ⊙ x = c·x, 0 ⊙ x = 0, quotients as one division, factors in
    `factor_rank` order.
    Terminates: a normal form; applied to its own result it rewrites nothing."""
    coef = 1
    powers: dict[Expr, object] = {}

    def add(f: Expr, k) -> None:
        nonlocal coef
        if isinstance(f, Const):
            if f.value == 0 and k < 0:
                powers[f] = powers.get(f, 0) + k
            elif abs(f.value) > 1 and k > 1 and k * math.log2(abs(f.value)) > 1100:
                raise OverflowError   # past float range, and slow to compute exactly (3 ** 3 ** 3 ** 3)
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
        # (b^c)^k with c an integer and a whole k (½ + ½) is b^(ck): (x²)^½ ⊙ (x²)^½ ⊙ x² = x⁴
        whole = [f for f, k in powers.items() if is_op(f, "power") and isinstance(f.args[1], Const)
                 and isinstance(f.args[1].value, int) and float(k).is_integer() and k != 0]
        for f in whole:
            add(f.args[0], f.args[1].value * int(powers.pop(f)))
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

    items = sorted(((b, k) for b, k in powers.items() if k != 0), key=lambda bk: factor_rank(bk[0]))
    num = [term(b, k) for b, k in items if k > 0]
    den = [term(b, -k) for b, k in items if k < 0]
    head = [Const(coef)] if coef != 1 or not num else []
    top = call("mul", *head, *num)
    out = call("div", top, call("mul", *den)) if den else top
    return fit(out, e)


@rule("add")
def collect_terms(e: Expr):
    """Like terms merge: 2A + 3A = 5A, x − x = 0, tr(AB) + tr(BA) = 2 tr(AB) (a trace of a
    product is compared in its canonical rotation, a 1×1 product with its transpose); zero
    terms go; the terms in `order_terms` order (positive before negative, numbers last, a term
    before its transpose, otherwise as they came).
    Terminates: a normal form; applied to its own result it rewrites nothing."""
    acc: dict = {}
    shown: dict = {}
    wide = any(not t.shape.is_scalar and not _is_ones_term(t) and not is_broadcast(t) for t in e.args)
    for t in e.args:
        if is_broadcast(t):
            t = t.args[0]   # collected as the scalar it spreads; the constructor spreads the result again
        if is_zero(t):
            continue
        c, rest = split_coef(t)
        if rest is not None and is_zero(rest):
            continue   # c·0 = 0
        if wide and is_op(rest, "ones"):
            rest = None   # 𝟙 + log x is 1 + log x: the other terms give the shape
        key = term_key(rest)
        shown.setdefault(key, rest)
        acc[key] = acc.get(key, 0) + c
    terms = order_terms([(c, shown[k]) for k, c in acc.items() if c != 0])
    if not terms:
        return zero_like(e)
    if not wide and not e.shape.is_scalar:   # only broadcasts and 𝟙s: (a + b)𝟙, one broadcast
        return broadcast_to(call("add", *(scaled(c, r if r is not None and not is_op(r, "ones") else None)
                                          for c, r in terms)), e.shape)
    return fit(call("add", *(scaled(c, r) for c, r in terms)), e)


def _is_ones_term(t: Expr) -> bool:
    return is_op(split_coef(t)[1], "ones")


# -- merging, factoring, expanding ---------------------------------------------------------------

@rule("add")
def merge_diagonals(e: Expr):
    """diag(a) + c·diag(b) = diag(a + c·b), one diagonal matrix instead of two.
    Terminates: the number of terms of the sum drops."""
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


@rule("mul")
def distribute_constant(e: Expr):
    """c (a₁ + … + aₖ) = c a₁ + … + c aₖ when every term then has coefficient ±1
    (½(2X⁻¹ − 2S) = X⁻¹ − S); otherwise the factored form stays (2(x − y)).
    Terminates: the c(…) goes, and the terms it leaves have coefficients ±1, which factor_scalars
    never takes out."""
    if not (len(e.args) == 2 and isinstance(e.args[0], Const) and is_op(e.args[1], "add")):
        return None
    c = e.args[0].value
    parts = [split_coef(t) for t in e.args[1].args]
    if all(r is not None and abs(c * k) == 1 for k, r in parts):
        return call("add", *(scaled(c * k, r) for k, r in parts))
    return None


@rule("add", trial=True)
def factor_common(e: Expr):
    """Entrywise factors shared by every term come out: Σ s ⊙ tᵢ = s ⊙ Σ tᵢ, as in
    s ⊙ (1 − s)² − s² ⊙ (1 − s) = s ⊙ (1 − s) ⊙ (1 − 2s).
    Terminates: a trial rule: the driver takes it only when the normal form gets strictly
    smaller (size_shown)."""
    if len(e.args) > 6 or e.shape.is_scalar:
        return None
    powers = [_monomial(t) for t in e.args]
    common = {b: min(p.get(b, 0) for p in powers) for b in powers[0]}
    common = {b: k for b, k in common.items() if k > 0}
    if not common:
        return None
    shared = call("mul", *(_power(b, k) for b, k in common.items()))
    out = call("mul", shared, call("add", *(_without(t, common) for t in e.args)))
    return out if out.shape == e.shape else None


def _factors(t: Expr):
    """(base, whole power) of each non-numeric entrywise factor of a term, numbers as (c, None)."""
    for f in (t.args if is_op(t, "mul") else (t,)):
        if isinstance(f, Const):
            yield f, None
        elif is_op(f, "power") and isinstance(f.args[1], Const) and isinstance(f.args[1].value, int):
            yield f.args[0], f.args[1].value
        else:
            yield f, 1


def _monomial(t: Expr) -> dict:
    """The non-numeric entrywise factors of a term, with their whole powers."""
    out: dict = {}
    for b, k in _factors(t):
        if k is not None:
            out[b] = out.get(b, 0) + k
    return out


def _power(b: Expr, k: int) -> Expr:
    return b if k == 1 else call("power", b, Const(k))


def _without(t: Expr, common: dict) -> Expr:
    """t with the powers `common` taken out of its factors, exponent by exponent (not t / Π bᵏ,
    which is undefined where a shared factor is 0)."""
    left = dict(common)
    out = []
    for b, k in _factors(t):
        if k is None:
            out.append(b)
            continue
        take = min(k, left.get(b, 0)) if k > 0 else 0
        left[b] = left.get(b, 0) - take
        if k - take:
            out.append(_power(b, k - take))
    return call("mul", *out) if out else Const(1)


@rule("add", trial=True)
def expand_products(e: Expr):
    """Entrywise products of sums are multiplied out: (a + b) ⊙ c = a ⊙ c + b ⊙ c, as in
    (1 − y) ⊙ s − y ⊙ (1 − s) = s − y. A scalar sum scaling a matrix stays the coefficient it
    is ((α − 1)·AB, the form factor_terms makes) unless that pays.
    Terminates: a trial rule: the driver takes it only when the normal form gets strictly
    smaller (size_shown)."""
    if len(e.args) > 8 or not any(_entrywise_sums(t) for t in e.args):
        return None
    terms = [p for t in e.args for p in _multiply_out(t)]
    return call("add", *terms) if len(terms) <= 16 else None


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


@rule("add")
def factor_scalars(e: Expr):
    """Scalar factors common to every term come out: 2s·A + 2s·B = 2s·(A + B), with s a scalar
    expression (not only a number).
    Terminates: the terms of the sum lose factors, and no rule moves a scalar expression back
    in (distribute_constant moves only a number, and only to leave coefficients ±1)."""
    if e.shape.is_scalar:
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


@rule("add")
def factor_terms(e: Expr):
    """Common factors of products come out of a sum: A x + Aᵀx = (A + Aᵀ)x, B A + B C = B(A + C),
    s·u vᵀ − y vᵀ = (s·u − y)vᵀ with scalar coefficients riding along.
    Terminates: the number of terms of the sum drops, and the one rule that multiplies a
    product out over a sum, distribute_kron, makes Kronecker products, not products."""
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
