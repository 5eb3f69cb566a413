"""The expression IR: small immutable nodes with structural equality, each knowing its Shape.
Leaves are Symbol and Const; every operation is a Call of an Op declared in matdiff/ops/.
Python operators on Expr (+, -, *, /, @, **, .T) build expressions with the ops' normalizing
constructors, so rules can be written as formulas: `A.T @ ct @ C.T`."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .errors import ShapeError
from .shapes import DIMS, SCALAR, STRICT, Shape


class ShapeMismatch(ShapeError):
    """Raised by an op's shape rule. `template` names operands as `{k}` (refs[k]: an argument
    index, or (first, last) for a run of them); the reader fills them from the source text with
    a caret, and `call` from the operands' printed forms for expressions built in Python."""

    def __init__(self, template: str, hint: str | None = None, refs: tuple | None = None):
        self.template, self.hint_template, self.refs = template, hint, refs
        super().__init__(template, hint=hint)

    def name_operands(self, args) -> "ShapeMismatch":
        refs = self.refs if self.refs is not None else tuple(range(len(args)))
        try:
            names = [str(args[r]) if not isinstance(r, tuple) else " @ ".join(str(a) for a in args[r[0]:r[1] + 1])
                     for r in refs]
            self.message = self.template.format(*names)
            self.hint = tidy_hint(self.hint_template.format(*names)) if self.hint_template else None
        except (IndexError, KeyError):
            pass
        return self


def tidy_hint(hint: str) -> str:
    """A suggested fix that transposes an operand already transposed says it plainly:
    W.T.T @ x is W @ x."""
    return re.sub(r"(?:\.T|ᵀ)\.T(?![A-Za-z0-9_])", "", hint)


class Expr:
    __slots__ = ("shape", "_hash")

    def _key(self) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        """Structural equality, without recursion (expressions may be hundreds of levels deep)
        and each pair of nodes compared once (equal but distinct shared DAGs compare in time
        linear in their size, not exponential in their depth)."""
        if self is other:
            return True
        if not isinstance(other, Expr) or self._hash != other._hash:
            return False
        stack, seen = [(self, other)], set()
        while stack:
            a, b = stack.pop()
            if a is b or (id(a), id(b)) in seen:
                continue
            if a._hash != b._hash or type(a) is not type(b):
                return False
            seen.add((id(a), id(b)))
            if type(a) is Call:
                if a.op.name != b.op.name or a.params != b.params or len(a.args) != len(b.args):
                    return False
                stack.extend(zip(a.args, b.args))
            elif a._key() != b._key():
                return False
        return True

    def __hash__(self) -> int:
        return self._hash

    def __setattr__(self, name, value):
        raise AttributeError("Expr nodes are immutable")

    @property
    def children(self) -> tuple["Expr", ...]:
        return ()

    # -- printing --------------------------------------------------------------------------
    def __str__(self) -> str:
        from .emit.pretty import to_text
        return to_text(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self} : {self.shape}>"

    def to_unicode(self) -> str:
        from .emit.pretty import to_unicode
        return to_unicode(self)

    def to_latex(self) -> str:
        from .emit.pretty import to_latex
        return to_latex(self)

    # -- building ------------------------------------------------------------------------------
    def __add__(self, other):
        return call("add", self, lift(other))

    def __radd__(self, other):
        return call("add", lift(other), self)

    def __sub__(self, other):
        return call("add", self, call("neg", lift(other)))

    def __rsub__(self, other):
        return call("add", lift(other), call("neg", self))

    def __neg__(self):
        return call("neg", self)

    def __mul__(self, other):
        return call("mul", self, lift(other))

    def __rmul__(self, other):
        return call("mul", lift(other), self)

    def __truediv__(self, other):
        return call("div", self, lift(other))

    def __rtruediv__(self, other):
        return call("div", lift(other), self)

    def __matmul__(self, other):
        return call("matmul", self, other)

    def __pow__(self, other):
        return call("power", self, lift(other))

    @property
    def T(self) -> "Expr":
        return call("transpose", self)

    # -- traversal -------------------------------------------------------------------------------
    def walk(self) -> Iterator["Expr"]:
        """Every distinct node once, children before parents (iterative)."""
        seen: set[int] = set()
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                yield node
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children))

    def depth(self) -> int:
        """The number of levels from this node down to its deepest leaf (iterative)."""
        below: dict[int, int] = {}
        for n in self.walk():
            below[id(n)] = 1 + max((below[id(c)] for c in n.children), default=0)
        return below[id(self)]

    def symbols(self) -> dict[str, "Symbol"]:
        return {n.name: n for n in self.walk() if isinstance(n, Symbol)}

    def depends_on(self, names) -> bool:
        return any(isinstance(n, Symbol) and n.name in names for n in self.walk())


@contextmanager
def stack_room(levels: int, frames_per_level: int):
    """Room on Python's stack for a recursive pass over `levels` levels of nesting, a few frames
    each, above the caller's: the default limit of 1000 frames would stop the reader, the
    printers or the simplifier at the 30th layer of a 64-layer network. The limit is put back
    after (unless someone changed it meanwhile); nothing is done when it is already enough."""
    old = sys.getrecursionlimit()
    frame, here = sys._getframe(1), 0
    while frame is not None:
        frame, here = frame.f_back, here + 1
    need = here + frames_per_level * levels + 100
    if need <= old:
        yield
        return
    sys.setrecursionlimit(need)
    try:
        yield
    finally:
        if sys.getrecursionlimit() == need:
            sys.setrecursionlimit(old)


class Symbol(Expr):
    __slots__ = ("name", "props")

    def __init__(self, name: str, shape: Shape, props: frozenset = frozenset()):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "props", frozenset(props))
        object.__setattr__(self, "_hash", hash(("sym", name, shape, self.props)))

    def _key(self):
        return ("sym", self.name, self.shape, self.props)


class Const(Expr):
    """A real scalar constant (int or float)."""

    __slots__ = ("value",)

    def __init__(self, value):
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "shape", SCALAR)
        object.__setattr__(self, "_hash", hash(("const", value)))

    def _key(self):
        return ("const", self.value)


class Call(Expr):
    """An application of an Op to argument expressions, with static params (dims, flags)."""

    __slots__ = ("op", "args", "params")

    def __init__(self, op: "Op", args: tuple, params: tuple = (), shape: Shape | None = None):
        args = args if type(args) is tuple else tuple(args)
        params = params if type(params) is tuple else tuple(params)
        if shape is None:
            ctx = DIMS.get()
            shapes = [a.shape for a in args] if ctx is STRICT else [ctx.shape(a.shape) for a in args]
            shape = op.shape(ctx, *shapes, *params)
        setattr = object.__setattr__
        setattr(self, "op", op)
        setattr(self, "args", args)
        setattr(self, "params", params)
        setattr(self, "shape", shape)
        # the children's hashes are stored: hashing them directly skips a Python __hash__ per child
        setattr(self, "_hash", hash((op.name, tuple([a._hash for a in args]), params)))

    @classmethod
    def remade(cls, node: "Call", args: tuple, params: tuple, shape: Shape) -> "Call":
        """`node` over new args, params and shape that denote the same thing (its dims named,
        say): no constructor, no shape rule."""
        new = object.__new__(cls)
        setattr = object.__setattr__
        setattr(new, "op", node.op)
        setattr(new, "args", args)
        setattr(new, "params", params)
        setattr(new, "shape", shape)
        setattr(new, "_hash", hash((node.op.name, tuple([a._hash for a in args]), params)))
        return new

    def _key(self):
        return (self.op.name, self.args, self.params)

    @property
    def children(self):
        return self.args


@dataclass(eq=False)
class Op:
    """An operation's whole story. The declarators in ops/base.py fill these fields."""

    name: str
    shape: Callable                     # (dims, *arg_shapes, *params) -> Shape; raises ShapeMismatch
    spellings: tuple = ()               # names the parser accepts, e.g. ("trace", "tr")
    arity: int | None = None            # None: n-ary
    build: Callable | None = None       # normalizing constructor (args, params) -> Expr
    jvp: Callable | None = None         # (node, tangents with None for zero) -> Expr | None
    transpose: Callable | None = None   # (node, i, ct) -> cotangent of args[i]; linear ops only
    linear: tuple | str = ()            # args the op is linear in: indices, "all" (jointly, as +),
                                        # or "multi" (in each one separately, as ⊙ and @)
    matrix: Callable | None = None      # linear ops: (node, i) -> M with vec(node) = M vec(args[i]),
                                        # the others fixed (column-major vec); None from it: M = I
    rule: tuple = ("derivative", "")    # (name, why) of the jvp rule, for steps(); why may say {op}
    transposed: Callable | None = None  # (node, t) -> nodeᵀ with the transpose moved to the args,
                                        # t transposing one; None: it stays a transposed node
    text: Callable | None = None        # printers: (printer, node) -> str
    unicode: Callable | None = None
    latex: Callable | None = None
    numpy: Callable | None = None       # (emitter, node) -> (code, prec): NumPy source and its
                                        # precedence, 1 + -, 2 * / @ -x, 3 -2, 4 **, 9 an atom.
                                        # The emitter (emit/numpy.py) brackets through
                                        # em.arg(a, prec) -> str; em.code(a) -> (code, prec),
                                        # em.dim(d), em.template("np.f({0})", args), em.chain(fs)
    prec: int = 9                       # printing precedence: 1 +, 2 * @ /, 3 unary -, 4 **, 9 atom
    domain: tuple = ()                  # per-arg domain tag: "any", "positive", "nonzero", "posdet", …
    numeric: Callable | None = None     # (node, arg_values) -> value, for verification
    doc: str = ""
    extra: dict = field(default_factory=dict)

    def is_linear_in(self, live) -> bool:
        """Whether the op is linear in the arguments `live` jointly, the others held fixed."""
        if self.linear == "all":
            return True
        if self.linear == "multi":
            return len(live) == 1
        return set(live) <= set(self.linear)


OPS: dict[str, Op] = {}
SPELLINGS: dict[str, Op] = {}


def register(op: Op) -> Op:
    OPS[op.name] = op
    for s in op.spellings:
        SPELLINGS[s] = op
    return op


def call(op, *args, params: tuple = ()) -> Expr:
    """Build op(args) with the op's normalizing constructor."""
    if op.__class__ is str:
        op = OPS[op]
    for a in args:
        if not isinstance(a, Expr):
            args = tuple(map(lift, args))
            break
    try:
        if op.build is not None:
            return op.build(args, params)
        return Call(op, args, params)
    except ShapeMismatch as e:
        raise e.name_operands(args)


def lift(x) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return Const(x)
    raise TypeError(f"cannot use {type(x).__name__} in a matrix expression")


def is_scalar(e: Expr) -> bool:
    # no dim context needed: an undeclared dim is never unified with 1 (shapes.Unifier)
    return e.shape.is_scalar


def const_value(e: Expr) -> Any:
    return e.value if isinstance(e, Const) else None


def rebuild(e: Expr, args) -> Expr:
    """`e` with new arguments, normalized by its op's constructor."""
    if not isinstance(e, Call):
        return e
    if all(a is b for a, b in zip(args, e.args, strict=True)):
        return e
    return call(e.op, *args, params=e.params)


def transform(e: Expr, leaf: Callable[[Expr], Expr | None], node_fn=None) -> Expr:
    """Rebuild `e` bottom-up (iteratively, shared nodes once): `leaf` maps leaves (None keeps them);
    `node_fn`, if given, maps each rebuilt Call."""
    memo: dict[int, Expr] = {}
    for n in e.walk():
        if isinstance(n, Call):
            out = rebuild(n, [memo[id(a)] for a in n.args])
            if node_fn is not None:
                out = node_fn(out)
        else:
            out = leaf(n)
            if out is None:
                out = n
        memo[id(n)] = out
    return memo[id(e)]


def substitute(e: Expr, mapping: dict[Expr, Expr]) -> Expr:
    """Replace leaves (usually Symbols) by expressions."""
    return transform(e, lambda n: mapping.get(n))
