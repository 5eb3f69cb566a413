"""The NumPy emitter's named rewrites: each writes one kind of node in a better form than its
op's own printer (faster, or without a temporary the size of a matrix), and says the identity it
uses and why it pays. `REWRITES` are tried on every node before the op's printer; `PRODUCT_FORMS`
on every pair the matrix-chain order multiplies. Each takes the emitter (emit/numpy.py) and
returns (code, precedence), or (code, shape, precedence) for a product, or None."""

from __future__ import annotations

from ..expr import OPS, Call, Expr, call
from ..ops.arith import split_negative

NOMINAL_DIM = 100   # size assumed for a symbolic dim when ordering a matrix chain

# ops whose NumPy form is a new array (never a view of an input), which may be written in place
FRESH = ("add", "mul", "matmul", "div", "power", "broadcast")


# -- rewrites of one node ---------------------------------------------------------------------------

def add_to_diagonal(em, e: Expr):
    """S ± diag(v) ± … as one n×n array: form S, then add each v to its diagonal in place
    (diag(p) − p pᵀ): np.diag(v) would allocate, and the sum pass over, a second n×n array.
    S is copied unless it is a fresh result; float, so that integer inputs still work."""
    spread = _is(e, "add") and _diagonal_terms(e)
    if not spread:
        return None
    rest, diagonal = spread
    fresh = isinstance(rest, Call) and rest not in em.shared and rest not in em.temps and \
        rest.op.name in FRESH
    code = em.code(rest)[0]
    name = em.names.temp("total")    # not a temp of `rest`: its value changes below
    em.lines.append(f"{name} = np.{'asarray' if fresh else 'array'}({code}, dtype=float)")
    for negative, v in diagonal:
        em.lines.append(f"{name}[np.diag_indices_from({name})] {'-' if negative else '+'}= {em.code(v)[0]}")
    return name, 9


def scale_smallest_factor(em, e: Expr):
    """c · (A B ⋯) = A (c B) ⋯ for a scalar c and a matrix product, with c on the factor of
    fewest entries: 2 * np.outer(g, x) makes a pass over the n×m result, np.outer(2 * g, x)
    one over g."""
    if not _is(e, "mul"):
        return None
    *head, chain = e.args
    if not (head and _is(chain, "matmul") and all(h.shape.is_scalar for h in head)):
        return None
    if chain.shape.rows == 1 or chain.shape.cols == 1:
        return None
    sizes = [size_of(f.shape) for f in chain.args]
    i = min(range(len(sizes)), key=lambda k: sizes[k][0] * sizes[k][1])
    if sizes[i][0] * sizes[i][1] >= size_of(chain.shape)[0] * size_of(chain.shape)[1]:
        return None
    f = chain.args[i]
    scaled = Call(OPS["mul"], (*head, f), shape=f.shape)
    return em.chain(chain.args[:i] + (scaled,) + chain.args[i + 1:])


def distribute_over_sum(em, e: Expr):
    """M (A + B) v = M A v + M B v when the product is a vector or a scalar and A, B are
    matrices: products with a vector are cheap, forming the matrix sum is not. Only a sum of
    matrices: (A + c) x stays whole."""
    if not (_is(e, "matmul") and (e.shape.rows == 1 or e.shape.cols == 1)):
        return None
    for i, f in enumerate(e.args):
        if _is(f, "add") and f.shape.rows != 1 and f.shape.cols != 1 and not any(
                _is(t, "broadcast") for t in f.args):
            return em.code(call("add", *(call("matmul", *e.args[:i], t, *e.args[i + 1:]) for t in f.args)))
    return None


def contract_diagonal(em, e: Expr):
    """diag(L R)ᵢ = Σₖ Lᵢₖ Rₖᵢ without forming L R (n² entries, for n wanted): np.einsum, or
    u ⊙ v for a column L = u (diag(u vᵀ) = u ⊙ v)."""
    if not (_is(e, "diagonal") and _is(e.args[0], "matmul")):
        return None
    *left, right = e.args[0].args
    lhs = call("matmul", *left)
    if lhs.shape.cols == 1:
        return f"{em.arg(lhs, 2)} * {em.arg(right, 3)}", 2
    return f'np.einsum("ij,ji->i", {em.code(lhs)[0]}, {em.code(right)[0]})', 9


def absorb_negation(em, e: Expr):
    """f(−z) written from z where the op declares that form (its `np_negated` template:
    σ(−z) = exp(−logaddexp(0, z))): no −(−z) in the code, and no pass to negate z."""
    negated = e.op.extra.get("np_negated") if isinstance(e, Call) else None
    if negated is None:
        return None
    negative, z = split_negative(e.args[0])
    return em.template(negated, [z]) if negative else None


def _complemented_sigmoid(e: Expr):
    """σ(z) for e = 1 − σ(z), else None."""
    if not _is(e, "add") or len(e.args) != 2:
        return None
    for one, rest in (e.args, e.args[::-1]):
        if _is_one(one):
            negative, s = split_negative(rest)
            if negative and _is(s, "sigmoid"):
                return s
    return None


def sigmoid_complement(em, e: Expr):
    """1 − σ(z) = σ(−z), written exp(−logaddexp(0, z)): past z ≈ 36, 1 − σ(z) rounds to 0 where
    σ(−z) keeps its value (2.3e-16 at z = 36), so σ′ = σ(1 − σ) stays accurate in the tails.
    z is read here beside σ(z): `reads` makes it a temporary, computed once."""
    s = _complemented_sigmoid(e)
    if s is None:
        return None
    flipped, z = split_negative(s.args[0])
    return em.code(call("sigmoid", z)) if flipped else em.template(s.op.extra["np_negated"], [z])


def _complement_reads(e: Expr) -> tuple:
    s = _complemented_sigmoid(e)
    return (s.args[0],) if s is not None else ()


sigmoid_complement.reads = _complement_reads


def log_sigmoid(em, e: Expr):
    """log σ(z) = −log(1 + e⁻ᶻ) = −logaddexp(0, −z): the log of a σ that underflows to 0
    (z ≈ −1000) is −1000, not −inf."""
    if not (_is(e, "log") and _is(e.args[0], "sigmoid")):
        return None
    negative, z = split_negative(e.args[0].args[0])
    code = em.code(z)[0] if negative else "-" + em.arg(z, 3)
    return f"-np.logaddexp(0, {code})", 2


REWRITES = (add_to_diagonal, scale_smallest_factor, distribute_over_sum, contract_diagonal,
            absorb_negation, sigmoid_complement, log_sigmoid)


# -- forms of one product in a chain: `left` and `right` are trees of factors ----------------------

def solve_left_inverse(em, left, right):
    """X⁻¹ R = solve(X, R): one LU solve, cheaper and more accurate than forming X⁻¹ and
    multiplying. Not for an inverse the code forms anyway (shared)."""
    f = _single(left)
    if not (_is(f, "inv") and f not in em.temps and f not in em.shared):
        return None
    rc, rs, _ = em.product(right)
    return f"np.linalg.solve({em.code(f.args[0])[0]}, {rc})", (f.shape.rows, rs[1]), 9


def solve_right_inverse(em, left, right):
    """L X⁻¹ = (X⁻ᵀ Lᵀ)ᵀ = solve(Xᵀ, Lᵀ)ᵀ, and solve(Xᵀ, lᵀ) for a row l (1-D at run time);
    the transposes are taken on the expressions, so Aᵀᵀ never appears."""
    f = _single(right)
    if not (_is(f, "inv") and f not in em.temps and f not in em.shared):
        return None
    xt = em.code(_transposed(f.args[0]))[0]
    factors = leaves(left)
    lt = em.code(_transposed(call("matmul", *factors)))[0]
    if factors[0].shape.rows == 1:
        return f"np.linalg.solve({xt}, {lt})", (1, f.shape.cols), 9
    return f"np.linalg.solve({xt}, {lt}).T", (factors[0].shape.rows, f.shape.cols), 9


def scale_rows(em, left, right):
    """diag(u) R = u[:, None] * R (u * r for a column r): broadcasting scales the rows, with no
    m×m diag(u) and no matrix product."""
    f = _single(left)
    if not _is(f, "diag"):
        return None
    rc, rs, rp = em.product(right)
    u = em.arg(f.args[0], 9)
    if rs[1] == 1:
        return f"{u} * {paren(rc, rp, 3)}", (rs[0], 1), 2
    return f"{u}[:, None] * {paren(rc, rp, 3)}", rs, 2


def scale_columns(em, left, right):
    """L diag(v) = L * v: broadcasting scales the columns, with no n×n diag(v)."""
    f = _single(right)
    if not _is(f, "diag"):
        return None
    lc, ls, lp = em.product(left)
    return f"{paren(lc, lp, 2)} * {em.arg(f.args[0], 3)}", ls, 2


def sum_along_axis(em, left, right):
    """X𝟙 = X.sum(axis=1), 𝟙ᵀX = X.sum(axis=0) and Xᵀ𝟙 = X.sum(axis=0), for a matrix X: one pass
    over X, with no vector of ones and no matrix product. Against a matrix of ones the sums are
    spread: X 𝟙ₙ𝟙ₖᵀ = np.outer(X.sum(axis=1), np.ones(k)), O(mn) where the product is O(mnk)."""
    for ones_, other, axis in ((_single(right), left, 1), (_single(left), right, 0)):
        if not _is(ones_, "ones"):
            continue
        factors = leaves(other)
        if 1 in (factors[0].shape.rows, factors[-1].shape.cols):   # 1-D at run time: a product is fine
            return None
        f = _single(other)
        if _is(f, "transpose"):       # Xᵀ𝟙 sums X along the other axis
            summed = f"{em.arg(f.args[0], 9)}.sum(axis={1 - axis})"
        else:
            code, _, prec = em.product(other)
            summed = f"{paren(code, prec, 9)}.sum(axis={axis})"
        k = ones_.shape.cols if axis == 1 else ones_.shape.rows
        lines = factors[0].shape.rows if axis == 1 else factors[-1].shape.cols
        shape = (lines, k) if axis == 1 else (k, lines)
        if k == 1:
            return summed, shape, 9
        ones_code = f"np.ones(({em.dim(k)},))"
        spread = f"{summed}, {ones_code}" if axis == 1 else f"{ones_code}, {summed}"
        return f"np.outer({spread})", shape, 9
    return None


PRODUCT_FORMS = (solve_left_inverse, solve_right_inverse, scale_rows, scale_columns, sum_along_axis)


# -- small helpers ------------------------------------------------------------------------------------

def _diagonal_terms(e: Call):
    """A matrix sum with terms ±diag(v) (v scaled by scalars, possibly) and others: (the sum of
    the others, [(negative, v), …]), else None."""
    if e.shape.rows == 1 or e.shape.cols == 1:
        return None
    diagonal, rest = [], []
    for t in e.args:
        negative, body = split_negative(t)
        if _is(body, "diag"):
            diagonal.append((negative, body.args[0]))
        elif _is(body, "mul") and _is(body.args[-1], "diag") and all(a.shape.is_scalar for a in body.args[:-1]):
            scaled = Call(OPS["mul"], (*body.args[:-1], body.args[-1].args[0]), shape=body.args[-1].args[0].shape)
            diagonal.append((negative, scaled))
        else:
            rest.append(t)
    if not diagonal or not rest:
        return None
    return (rest[0] if len(rest) == 1 else Call(e.op, tuple(rest), shape=e.shape)), diagonal


def _single(tree) -> Expr | None:
    """The factor a tree is, when it is a single factor."""
    return tree[0] if tree[1] is None else None


def leaves(tree) -> list[Expr]:
    left, right = tree
    return [left] if right is None else leaves(left) + leaves(right)


def _transposed(e: Expr) -> Expr:
    from ..simplify import push_transpose
    t = e.T
    return push_transpose(t) or t


def paren(code: str, prec: int, need: int) -> str:
    return f"({code})" if prec < need else code


def _is_one(e) -> bool:
    """1, or 1 spread over a shape."""
    from ..expr import Const
    return e == Const(1) or (_is(e, "broadcast") and e.args[0] == Const(1))


def _is(e, name: str) -> bool:
    return isinstance(e, Call) and e.op.name == name


def size_of(shape) -> tuple[int, int]:
    return tuple(d if isinstance(d, int) else NOMINAL_DIM for d in shape)
