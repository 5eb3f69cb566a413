"""What the rules share: recognizers (is_op, is_zero, is_symmetric and the op facts they read),
a term's coefficient and scalar factors, the structural keys that compare and order terms, and
_t, a transpose pushed to the leaves. Everything structural: linear in the size of the DAG,
never through printed text (exponentially long for a shared DAG)."""

from __future__ import annotations

from functools import wraps

from ..expr import DIMS, Call, Const, Expr, Op, Symbol, call
from ..ops import broadcast_to, zeros
from ..ops.arith import is_broadcast

def identity_cache(fn):
    """Memoize fn(node, *rest) by the identity of the node and of rest: never by ==, which on two
    equal but distinct shared DAGs takes time exponential in their depth (an lru_cache would,
    on a hit of a structurally equal key). Bounded: it starts over past 2¹⁶ entries."""
    memo: dict[tuple, tuple] = {}

    @wraps(fn)
    def cached(e, *rest):
        key = (id(e), *map(id, rest))
        hit = memo.get(key)
        if hit is None:
            if len(memo) > 1 << 16:
                memo.clear()
            hit = memo[key] = (fn(e, *rest), e, rest)     # the args kept alive: their ids stay theirs
        return hit[0]

    cached.cache_clear = memo.clear
    return cached


# -- op facts --------------------------------------------------------------------------------
# Facts an op declares on its record (op.extra[fact]) and the simplifier reads:
#   symmetric            the value is a symmetric matrix (I, diag(v))
#   keeps_symmetry       symmetric when its arguments are (X⁻¹, +, ⊙)
#   symmetric_if_square  constant entries (𝟙𝟙ᵀ, c𝟙𝟙ᵀ)
#   transpose_invariant  f(Xᵀ) = f(X) (sum, tr)
#   scalar_identity      f(c) = c for a scalar c (cᵀ, sum, tr)
#   scalars_out          f(c·A) = c·f(A) in its linear arguments

def op_fact(op: Op, fact: str):
    """Whether the op declares `fact` on its record."""
    return op.extra.get(fact, False)


def is_op(e: Expr | None, *names: str) -> bool:
    return isinstance(e, Call) and e.op.name in names


def is_zero(e: Expr) -> bool:
    return (isinstance(e, Const) and e.value == 0) or is_op(e, "zeros")


def is_one(e: Expr) -> bool:
    """1, or 1 broadcast over a shape."""
    return e == Const(1) or is_broadcast(e) and e.args[0] == Const(1) or is_op(e, "ones")


def is_symmetric(e: Expr, memo: dict | None = None) -> bool:
    """Known symmetric: a symbol declared so, an op whose value always is (I, diag(v)), an op that
    keeps symmetry (X⁻¹, +, ⊙) of symmetric arguments (scalars count), a square constant matrix.
    Each shared node is asked once."""
    if isinstance(e, Symbol):
        return bool(e.props & {"symmetric", "spd", "diagonal"})
    if not isinstance(e, Call):
        return False
    if op_fact(e.op, "symmetric"):
        return True
    if op_fact(e.op, "keeps_symmetry"):
        memo = {} if memo is None else memo
        if id(e) not in memo:
            memo[id(e)] = all(a.shape.is_scalar or is_symmetric(a, memo) for a in e.args)
        return memo[id(e)]
    return bool(op_fact(e.op, "symmetric_if_square")) and e.shape.rows == e.shape.cols


def zero_like(e: Expr) -> Expr:
    return Const(0) if e.shape.is_scalar else zeros(e.shape)


def fit(e: Expr, like: Expr) -> Expr:
    """Restore a shape lost by a cancellation (x/x = 𝟙 for a vector x) or by a sum whose terms
    were all broadcasts: the scalar is broadcast again."""
    if e.shape == like.shape:
        return e
    return broadcast_to(e, like.shape)


# -- coefficients and scalar factors --------------------------------------------------------------

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


def split_scalars(t: Expr) -> tuple:
    """t = s · rest with s a product of scalar factors (numbers and scalar expressions):
    (list of the scalar factors, rest)."""
    if is_op(t, "mul"):
        scalars = [a for a in t.args if a.shape.is_scalar]
        rest = [a for a in t.args if not a.shape.is_scalar]
        if scalars and len(rest) == 1:
            return scalars, rest[0]
    return [], t


def size_shown(e: Expr) -> int:
    """Nodes as the textbook form shows them, each node of the DAG once: a broadcast scalar is
    written bare (1 − s)."""
    return sum(1 for n in e.walk() if not is_broadcast(n))


# -- structural keys: how terms are compared and ordered --------------------------------------------

def factor_rank(e: Expr) -> int:
    """Where a factor goes in an entrywise product: numbers, then scalars, then the rest (the
    sort is stable: within a rank the order of the derivation, and of the input, stays)."""
    return 0 if isinstance(e, Const) else 1 if e.shape.is_scalar else 2


@identity_cache
def transposes(e: Expr | None) -> int:
    """How many transposes a term holds (each distinct node once): A + Aᵀ reads better than
    Aᵀ + A."""
    return 0 if e is None else sum(1 for n in e.walk() if is_op(n, "transpose"))


class StructureIds:
    """A number per structure: two expressions get the same id exactly when they are equal
    (with their transposes left out, for `without_transposes`). A node's id comes from its op,
    params and its children's ids, each distinct node once and remembered (up to `limit` nodes,
    then it starts over), so ids cost O(1) per node seen and compare as numbers, where comparing
    expressions that are equal but not one object can take time exponential in a shared DAG,
    and printed text is exponentially long."""

    def __init__(self, without_transposes: bool = False, limit: int = 1 << 17):
        self.without_transposes, self.limit = without_transposes, limit
        self.clear()

    def clear(self) -> None:
        self.table: dict[tuple, int] = {}
        self.ids: dict[int, tuple[int, Expr]] = {}    # id(node) → (its id, the node, kept alive)

    def __call__(self, e: Expr) -> int:
        ids = self.ids
        hit = ids.get(id(e))
        if hit is not None:
            return hit[0]
        if len(ids) > self.limit:
            self.clear()
            ids = self.ids
        stack: list[tuple[Expr, bool]] = [(e, False)]
        while stack:
            n, ready = stack.pop()
            if id(n) in ids:
                continue
            if not ready:
                stack.append((n, True))
                stack.extend((c, False) for c in n.children if id(c) not in ids)
                continue
            if isinstance(n, Call) and self.without_transposes and n.op.name == "transpose":
                ids[id(n)] = (ids[id(n.args[0])][0], n)
                continue
            key = (n.op.name, n.params, tuple(ids[id(a)][0] for a in n.args)) if isinstance(n, Call) else ("leaf", n)
            ids[id(n)] = (self.table.setdefault(key, len(self.table)), n)
        return ids[id(e)][0]


STRUCTURE = StructureIds()
PLAIN_STRUCTURE = StructureIds(without_transposes=True)


def order_terms(terms: list[tuple]) -> list[tuple]:
    """The textbook order of the (coefficient, rest) terms of a sum: positive before negative,
    numbers (rest None) last, otherwise in order of first appearance, except that a term and its
    transposes (equal with the transposes left out, same sign) trade places so that the one with
    fewer transposes comes first: A + Aᵀ, xᵀAy − yᵀAᵀx. The keys are structural (sign, constness,
    the id of the transpose-free structure, the transpose count): linear in the size of the DAG."""
    out = sorted(terms, key=lambda cr: (cr[0] < 0, cr[1] is None))
    if not any(rest is not None and transposes(rest) for _, rest in out):
        return out
    plain = PLAIN_STRUCTURE
    groups: dict = {}                    # (sign, transpose-free structure) → the positions of its terms
    for i, (c, rest) in enumerate(out):
        if rest is not None:
            groups.setdefault((c < 0, plain(rest)), []).append(i)
    for slots in groups.values():
        if len(slots) > 1:
            members = [out[i] for i in sorted(slots, key=lambda i: transposes(out[i][1]))]   # stable
            for i, t in zip(slots, members, strict=True):
                out[i] = t
    return out


def term_key(e: Expr | None, ids: StructureIds = STRUCTURE):
    """What like terms are compared by, in structure ids: a scalar product up to transposition
    (vᵀx = xᵀv), a trace of a product up to rotation and transposition, tr(ABC) = tr(BCA) =
    tr(CAB) = tr(CᵀBᵀAᵀ) (the set of those factor sequences); otherwise the term itself."""
    if e is None:
        return None
    if is_op(e, "matmul") and e.shape.is_scalar:
        return frozenset((ids(e), ids(_t(e))))
    if is_op(e, "trace") and is_op(e.args[0], "matmul"):
        f = tuple(ids(x) for x in e.args[0].args)
        g = tuple(ids(_t(x)) for x in reversed(e.args[0].args))      # tr(M) = tr(Mᵀ)
        return ("trace", frozenset(s[i:] + s[:i] for s in (f, g) for i in range(len(s))))
    return ids(e)


# -- a transpose pushed to the leaves ----------------------------------------------------------------

def _t(x: Expr) -> Expr:
    """xᵀ with the transpose pushed all the way, by what each op declares it does to a transpose
    (`Op.transposed`: (AB)ᵀ = BᵀAᵀ, (X⁻¹)ᵀ = (Xᵀ)⁻¹, (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ, …); a sum or an entrywise
    product term by term only where that needs no more transposes ((x − m)ᵀ stays whole); Sᵀ = S
    for a known symmetric S."""
    return _pushed(x, DIMS.get())


@identity_cache
def _pushed(x: Expr, dims) -> Expr:
    """_t(x) under the dim context `dims` (the constructors read it): each node once."""
    if x.shape.is_scalar and not is_op(x, "matmul") or is_symmetric(x):
        return x
    if not isinstance(x, Call) or x.op.transposed is None:
        return x.T
    pushed = x.op.transposed(x, lambda a: _pushed(a, dims))
    if pushed is None:
        return x.T
    if op_fact(x.op, "transpose_if_fewer") and transposes(pushed) > transposes(x):
        return x.T   # (x − m)ᵀ stays whole
    return pushed
