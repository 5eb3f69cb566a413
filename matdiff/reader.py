"""Syntax tree → Expr. The builder reads names (declared, function, or by convention), applies
the ops' shape rules while unifying undeclared dims, then names the dims that remain free
(n, m, k, …). Shape errors quote the input with a caret under the operation and a likely fix."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import ops  # noqa: F401  (registers the ops)
from .emit.pretty import closed_group
from .errors import AssumptionError, MatdiffError, ParseError, ShapeError, ShapeSpecError, UnknownFunctionError
from .expr import DIMS, OPS, SPELLINGS, Call, Const, Expr, ShapeMismatch, Symbol, call, stack_room, tidy_hint
from .shapes import _SPLIT_RE, SCALAR, DimVar, Shape, Unifier, dim_mul, parse_shape
from . import syntax
from .reader_numpy import AXIS_FUNCTIONS, BROADCASTING, METHOD_FUNCTIONS, NumpyReading
from .syntax import PRODUCT_RUNS, Node, _join, syntax_tree

PROPERTIES = ("symmetric", "spd", "diagonal", "positive")
SQUARE_PROPERTIES = ("symmetric", "spd", "diagonal")
# Spelled-out Greek letters are scalars by convention, as α, β, λ are; `delta` is left out on
# purpose: in backprop it names the error vector.
GREEK_NAMES = {"alpha", "beta", "gamma", "epsilon", "eps", "zeta", "eta", "theta", "kappa", "lam",
               "lambda", "lmbda", "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "omega"}
DIM_POOL = ("n", "m", "k", "p", "q", "r", "s", "t", "d", "l")
MAX_MATRIX_POWER = 64   # Xᵏ is read as the product X⋯X
MAX_INT_DIGITS = 18     # an int literal (exponent, dimension) is exact up to 10¹⁸; a longer number is a float
NUMPY_MARKS = ("@", "**", ".T", "np.", "numpy.")
PAPER_MARKS = ("ᵀ", "⁻", "²", "³", "‖", "σ", "⊙", "∘", "⊗", "𝟙", "½", "−")
_NUMPY_SYNTAX = re.compile(r"\.[A-Za-z_]\w*\(|\[|\baxis\s*=")   # a method call, a subscript, an axis
NUMPY_ALIASES = ("dot", "matmul", "inner", "outer", "multiply", "maximum", "minimum", "transpose", "where", "clip")


# -- reading ---------------------------------------------------------------------------------------

@dataclass
class Reading:
    """What the parser made of a text: the Expr, its symbols in order of appearance, the dims it
    had to invent, and whether the text was read as NumPy or paper notation."""

    text: str
    expr: Expr
    symbols: dict[str, Symbol]
    inferred: list[str] = field(default_factory=list)
    style: str = "numpy"
    vectors: str = "1-D"     # NumPy text: "1-D" arrays, or "columns" (n×1, where the text transposes a vector)

    @property
    def read_as(self) -> str:
        return str(self.expr)


def parse(text: str, shapes: dict | None = None, assume: dict | None = None) -> Expr:
    """Read a matrix expression in NumPy or paper notation; see `read`."""
    return read(text, shapes, assume).expr


def read(text: str, shapes: dict | None = None, assume: dict | None = None, style: str = "auto", *,
         taken_dims=()) -> Reading:
    """Read `text`; `style` "numpy" keeps every word a name (dh1, delta), "math" splits undeclared
    words into one-letter symbols (AXC), "auto" decides by the text (@, **, .T or np. mean NumPy).
    `taken_dims` names dims in use elsewhere (a program's other lines) that inferred dims avoid."""
    if not isinstance(text, str):
        raise ParseError(f"expected the expression as a str, got {type(text).__name__}")
    if not text.strip():
        raise ParseError("empty expression", text=text, span=(len(text), len(text)),
                         hint='write an expression such as "x.T @ A @ x"')
    builder = _Builder(text, shapes, assume, style)   # the declarations are checked before the text
    tree = syntax_tree(text)
    try:
        with stack_room(tree.depth, FRAMES_PER_LEVEL):
            try:
                reading = _read_tree(builder, tree, taken_dims)
            except MatdiffError:
                if builder.transposed_vector is None:
                    raise
            if builder.transposed_vector is not None:   # written with column vectors: read so
                reading = _read_tree(_Builder(text, shapes, assume, style, columns=True), tree, taken_dims)
            return reading
    except RecursionError:   # not expected within MAX_DEPTH; said as the limit it stands for
        raise ParseError(f"expression nested too deeply to read (the limit matdiff.syntax.MAX_DEPTH is "
                         f"{syntax.MAX_DEPTH} levels)", text=text, span=(0, len(text)),
                         hint="split it into smaller expressions") from None


def _read_tree(builder, tree, taken_dims) -> Reading:
    builder.dim_names |= set(taken_dims)
    token = DIMS.set(builder.dims)
    try:
        return builder.finish(builder.build(tree))
    finally:
        DIMS.reset(token)


FRAMES_PER_LEVEL = 8   # the most Python frames the builder spends on one level of nesting


class _Builder(NumpyReading):
    def __init__(self, text: str, shapes: dict | None, assume: dict | None, style: str = "auto",
                 columns: bool = False):
        self.text = text
        self.dims = Unifier()
        self.declared = declared_shapes(shapes)
        self.props = _read_assumptions(assume)
        self.symbols: dict[str, Symbol] = {}
        self.first_seen: dict[str, int] = {}
        self.dim_names: set[str] = set()      # dims the text names: eye(n), zeros(m, k)
        self.split_words: list = []           # (word, span) read as a product of letters: AXC
        self.seen_at: list = []               # (name, span) of every symbol occurrence
        self._message_names = None
        self.dims.namer = self.name_in_message
        if style not in ("auto", "numpy", "math"):
            raise ParseError(f"unknown style {style!r}", hint='style="auto", "numpy" or "math"')
        # auto: NumPy notation (words are names) when the text has its marks and none of paper's;
        # a text that mixes them (xᵀAx + x.T @ b) is read as paper, where Ax is a product
        self.numpy_style = style == "numpy" or style == "auto" and (
            any(t in text for t in NUMPY_MARKS) or _NUMPY_SYNTAX.search(text) is not None) \
            and not any(t in text for t in PAPER_MARKS)
        # NumPy text reads vectors as 1-D arrays unless it is written with columns (see reader_numpy)
        self.columns = columns or _declares_columns(shapes)
        self.two_d: dict[int, Expr] = {}
        self.transposed_vector = None

    # -- dispatch --------------------------------------------------------------------------------
    def build(self, node: Node) -> Expr:
        while node.kind == "group":   # parentheses: read through them without recursion
            node = node.kids[0]
        return _BUILDERS[node.kind](self, node)

    def b_number(self, node):
        return Const(self.number(node.value, node.span))

    def number(self, s: str, span) -> int | float:
        """A literal's value: an int up to MAX_INT_DIGITS digits, else a float64 (float() reads
        any length, where int() refuses 4300 digits); past float64's range, a ParseError."""
        if s.isdigit() and len(s) <= MAX_INT_DIGITS:
            return int(s)
        value = float(s)
        if not math.isfinite(value):
            raise ParseError(f"the number {s if len(s) < 40 else s[:20] + '…'} is too large for float64",
                             text=self.text, span=span)
        return value

    def integer(self, digits: str, span, what: str) -> int:
        """An exponent or a size, which must be an exact int: at most MAX_INT_DIGITS digits."""
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise ParseError(f"{what} has {len(digits.lstrip('-'))} digits, more than matdiff takes "
                             f"(the limit matdiff.reader.MAX_INT_DIGITS = {MAX_INT_DIGITS})",
                             text=self.text, span=span)
        return int(digits)

    def b_fraction(self, node):
        if node.value == "½":
            num, den = 1, 2
        else:
            num, den = (self.number(v, node.span) for v in node.value.split("/"))
        if den == 0:
            raise ParseError("division by zero", text=self.text, span=node.span)
        return self.apply_exprs("div", [(Const(num), node.span), (Const(den), node.span)], node.span)

    def b_name(self, node):
        items = self.word(node.value, node.span)
        return items[0][1] if len(items) == 1 and items[0][0] == "expr" else self.fold_juxt(items)

    def b_compare(self, node):
        """a > b is the 0/1 mask step(a − b) (a < b: step(b − a)); equality has measure zero."""
        a, b = node.kids
        hi, lo = (a, b) if node.value in (">", ">=") else (b, a)
        hi_e, lo_e = self.build(hi), self.build(lo)
        zero = isinstance(lo_e, Const) and lo_e.value == 0
        try:
            diff = hi_e if zero else self.apply_exprs("add", [(hi_e, hi.span), (self.negated(lo_e), lo.span)], node.span)
        except ShapeError as e:
            e.message = e.message.replace("cannot add", "cannot compare", 1)
            raise
        return self.apply_exprs("step", [(diff, node.span)], node.span)

    def b_neg(self, node):
        return self.apply("neg", [node.kids[0]], node.span)

    def b_transpose(self, node):
        return self.on_last_letter(node, lambda base: self.transpose(self.build(base), node.span))

    def on_last_letter(self, node, apply):
        """In paper style postfixes bind to the last letter of a word: ABᵀ = A Bᵀ, AX⁻¹ = A X⁻¹.
        A 1 transposed is the vector of ones (1ᵀx = sum(x)), and a function letter with a postfix
        is a symbol (Σ⁻¹ is the inverse of a matrix Σ; I, the identity, stays the identity)."""
        base = node.kids[0]
        if base.kind == "number" and base.value == "1" and node.kind == "transpose":
            return call("ones", params=(DimVar("n_1"), 1)).T
        if base.kind == "name" and base.value in SPELLINGS and len(base.value) == 1 \
                and SPELLINGS[base.value].arity != 0 and base.value not in self.declared:
            self.symbol(base.value, base.span)
        items = self.postfix_items(node)
        return self.fold_juxt(items) if items is not None else apply(base)

    def postfix_items(self, node) -> list | None:
        """A word that splits, under postfixes that all bind to its last letter (Axᵀᵀ = A xᵀᵀ), as
        the items of a juxtaposition, so that it joins the factors around it (yᵀyCᵀ = (yᵀy) Cᵀ);
        None for anything else."""
        chain, base = [], node
        while base.kind in _POSTFIXES:
            chain.append(base)
            base = base.kids[0]
        if base.kind != "name" or self.parts(base.value) is None:
            return None
        items = self.word(base.value, base.span)
        if items[-1][0] != "expr":
            return None
        *head, (_, _, span) = items
        post = Node("name", span, value=base.value[span[0] - base.span[0]:])
        for outer in reversed(chain):
            post = Node(outer.kind, (span[0], outer.span[1]), [post] + outer.kids[1:], outer.value)
        return head + [("expr", self.build(post), post.span)]

    def b_sum(self, node):
        terms = [(self.build(node.kids[0]), node.kids[0].span)]
        for sign, kid in zip(node.value[1:], node.kids[1:], strict=True):
            term = self.build(kid)
            terms.append((self.negated(term) if sign == "-" else term, kid.span))
        return self.apply_exprs("add", terms, node.span)   # one n-ary sum: linear in its length

    def b_product(self, node):
        acc, acc_span = self.build(node.kids[0]), node.kids[0].span
        operators = [op for op, _ in node.value[1:]]
        i = 0
        while i < len(operators):
            op, kid = operators[i], node.kids[i + 1]
            span = _join(node.kids[0], kid)
            run = PRODUCT_RUNS.get(op)
            if run is not None:   # a run of @ (or of *) is one product: linear in its length (A @ B @ … @ x)
                j = i
                while j + 1 < len(operators) and PRODUCT_RUNS.get(operators[j + 1]) == run:
                    j += 1
                factors = [(acc, acc_span)] + [(self.build(k), k.span) for k in node.kids[i + 1:j + 2]]
                acc_span = _join(node.kids[0], node.kids[j + 1])
                acc = self.matmul(factors, acc_span) if run == "matmul" else self.apply_exprs(run, factors, acc_span)
                i = j + 1
                continue
            if op == "/" and kid.kind == "juxt":   # λ/2 ‖w‖² = (λ/2)‖w‖²: the divisor is the first factor
                first, rest = kid.kids[0], kid.kids[1:]
                head = (acc_span[0], first.span[1])
                quotient = self.apply_exprs("div", [(acc, acc_span), (self.divisor(first), first.span)], head)
                acc, acc_span = self.fold_juxt([("expr", quotient, head)] + self.juxt_items(rest)), span
                i += 1
                continue
            rhs = self.divisor(kid) if op == "/" else self.build(kid)
            args = [(acc, acc_span), (rhs, kid.span)]
            if op in ("·", "⋅") and acc.shape.cols == 1 and rhs.shape.cols == 1 and not acc.shape.is_scalar \
                    and not rhs.shape.is_scalar:
                acc = self.apply_exprs("matmul", [(acc.T, acc_span), (rhs, kid.span)], span)   # x·y = xᵀy
            else:
                acc = self.apply_exprs(_PRODUCTS.get(op, "mul"), args, span)
            acc_span = span
            i += 1
        return acc

    def divisor(self, node) -> Expr:
        e = self.build(node)
        if isinstance(e, Const) and e.value == 0 or _is_constant_zero(e):
            raise ParseError("division by zero", text=self.text, span=node.span)
        return e

    def b_juxt(self, node):
        return self.fold_juxt(self.juxt_items(node.kids))

    def juxt_items(self, kids) -> list:
        """The factors of a juxtaposition; words that split join the run letter by letter (a word
        under a postfix, or before a bracket: xᵀx(y + z) = (xᵀx)(y + z))."""
        items = []
        for kid in kids:
            if kid.kind == "name":
                items += self.word(kid.value, kid.span)
            elif kid.kind in _POSTFIXES and (spliced := self.postfix_items(kid)) is not None:
                items += spliced
            elif kid.kind == "call" and (spliced := self.call_items(kid)) is not None:
                items += spliced
            else:
                items.append(("expr", self.build(kid), kid.span))
        return items

    def fold_juxt(self, items) -> Expr:
        """Paper products. Factors side by side form one product (xᵀy z = (xᵀy)z; scalars scale).
        A function name without parentheses applies to the factors on its right up to the next
        function name (tr AXC = tr(AXC), det X det Y = det(X) det(Y)); one written directly
        before another composes with it (log det X = log(det X))."""
        done: list = []     # (expr, span) of finished factors, right to left
        run: list = []      # (expr, span) of the factors since the last function name, right to left
        after_fn = False    # the item just read (to the right) was a function name
        for kind, value, span in reversed(items):
            if kind == "fn" and not run and not done and len(self.text[span[0]:span[1]]) == 1:
                kind, value = "expr", self.symbol(self.text[span[0]:span[1]], span)   # log det Σ: Σ is a matrix
            if kind != "fn":
                run.append((value, span))
                after_fn = False
                continue
            if value.arity not in (None, 1):
                spelled = self.text[span[0]:span[1]]
                raise ParseError(f"{spelled} takes {value.arity} arguments, so it needs parentheses",
                                 text=self.text, span=span,
                                 hint=f"{spelled}({', '.join('ABCD'[:value.arity])})")
            if run:
                arg, arg_span = self.product(run[::-1])
                run = []
            elif after_fn:
                arg, arg_span = done.pop()
            else:
                raise ParseError(f"{value.name} needs an argument", text=self.text, span=span,
                                 hint=f"{value.spellings[0]}(x)")
            whole = (span[0], arg_span[1])
            done.append((self.apply_op(value, [(arg, arg_span)], whole), whole))
            after_fn = True
        return self.product(run[::-1] + done[::-1])[0]

    def product(self, factors: list) -> tuple:
        """One product of (expr, span) factors: (expr, span)."""
        if len(factors) == 1:
            return factors[0]
        whole = (factors[0][1][0], factors[-1][1][1])
        return self.apply_exprs("matmul", factors, whole), whole

    def b_pow(self, node):
        return self.apply("power", node.kids, node.span)

    def b_caret(self, node):
        base = node.kids[0]
        if base.kind == "name" and base.value == "e" and "e" not in self.declared and "e" not in self.symbols:
            return self.apply("exp", [node.kids[1]], node.span)   # e^x, e^{-x}: the exponential
        return self.on_last_letter(node, lambda base: self.caret(node, base))

    def caret(self, node, base):
        ex = node.kids[1]
        while ex.kind == "group":
            ex = ex.kids[0]
        if ex.kind == "name" and ex.value == "T" and "T" not in self.declared:
            return self.apply("transpose", [base], node.span)
        if ex.kind == "name" and ex.value[0] == "T" and "T" not in self.declared and self.splits(ex.value):
            # A^TB in paper style: Aᵀ B
            t = self.apply("transpose", [base], (base.span[0], ex.span[0] + 1))
            rest = self.word(ex.value[1:], (ex.span[0] + 1, ex.span[1]))
            return self.fold_juxt([("expr", t, (base.span[0], ex.span[0] + 1))] + rest)
        if ex.kind == "neg" and ex.kids[0].kind == "name" and ex.kids[0].value == "T":
            return self.apply_exprs("transpose", [(self.apply("inv", [base], node.span), base.span)], node.span)
        b, e = self.build(base), self.build(ex)
        return self.integer_power(b, base.span, e, ex.span, node.span, "^")

    def b_superscript(self, node):
        return self.on_last_letter(node, lambda base: self.superscript(node, base))

    def superscript(self, node, base):
        sup = node.value
        if sup.startswith("⊙"):   # x⊙²: the elementwise power
            k = self.integer(sup[1:].translate(_SUPERSCRIPT_DIGITS), node.span, "the exponent")
            return self.apply_exprs("power", [(self.build(base), base.span), (Const(k), (node.span[1] - len(sup), node.span[1]))],
                                    node.span)
        if sup == "⁻ᵀ":
            return self.apply_exprs("transpose", [(self.apply("inv", [base], node.span), base.span)], node.span)
        start = node.span[1] - len(sup)
        k = self.integer(sup.translate(_SUPERSCRIPT_DIGITS), (start, node.span[1]), "the exponent")
        return self.integer_power(self.build(base), base.span, Const(k), (start, node.span[1]), node.span, sup)

    def integer_power(self, b, bspan, e, espan, span, spelled) -> Expr:
        """Paper powers: a scalar power, or for a square matrix X⁻¹ = inv(X) and Xᵏ = X⋯X."""
        if self.dims.shape(b.shape).is_scalar:
            return self.apply_exprs("power", [(b, bspan), (e, espan)], span)
        k = e.value if isinstance(e, Const) else None
        btext = self.describe(bspan)
        if not isinstance(k, int) or k == 0:
            raise ShapeError(f"{btext}{spelled}{'' if spelled != '^' else self.describe(espan)}: a matrix power needs a "
                             f"nonzero integer exponent, and {btext} is {self.dims.shape(b.shape)}",
                             text=self.text, span=span, hint=f"{btext} ** p for the elementwise power")
        s = self.dims.shape(b.shape)
        if s.is_vector or s.is_row:
            raise ShapeError(f"{btext} is a vector ({s}); a power of a vector is ambiguous",
                             text=self.text, span=span,
                             hint=f"{btext} ** {abs(k)} for the elementwise power, or {btext}.T @ {btext} for the squared norm")
        if abs(k) > MAX_MATRIX_POWER:
            raise ParseError(f"{self.describe(span)}: a matrix power is written out as a product, and {abs(k)} factors "
                             f"are more than matdiff takes (the limit matdiff.reader.MAX_MATRIX_POWER = "
                             f"{MAX_MATRIX_POWER})", text=self.text, span=span,
                             hint=f"{btext} ** {k} for the elementwise power")
        if k < 0:
            b = self.apply_exprs("inv", [(b, bspan)], span)
        return self.apply_exprs("matmul", [(b, bspan)] * abs(k), span) if abs(k) > 1 else b

    def b_norm(self, node):
        sub = node.value or ""
        power = {"²": 2, "³": 3}.get(sub[:1])       # ‖X‖²_F: the power written before the subscript
        sub = (sub[1:] if power else sub).strip("_{}").replace("₂", "2").replace("₁", "1")
        x = self.build(node.kids[0])
        s = self.dims.shape(x.shape)
        if sub in ("", "F", "fro") or (sub == "2" and (s.cols == 1 or s.rows == 1)):
            norm = self.apply_exprs("norm", [(x, node.kids[0].span)], node.span)
            return self.apply_exprs("power", [(norm, node.span), (Const(power), node.span)], node.span) if power else norm
        what = "the spectral norm ‖X‖_2 of a matrix" if sub == "2" else f"the {sub}-norm"
        raise ParseError(f"{what} is not supported", text=self.text, span=node.span,
                         hint="use ‖X‖ or ‖X‖_F (Frobenius), or ‖x‖ (2-norm of a vector)")

    def call_name(self, node) -> str:
        name = _MODULE_PREFIX.sub("", node.value) if "." in node.value else node.value
        if name not in SPELLINGS and name.lower() in SPELLINGS and len(name) > 2 and name not in self.declared:
            name = name.lower()   # ReLU(x), Log(x), Det(X), as often printed
        return name

    def call_items(self, node, name: str | None = None) -> list | None:
        """A name before a bracket that is a factor, not a function: A(B + C), I(A), Wx(…); as
        the items of a juxtaposition (the name's letters, then the bracket), else None."""
        name, raw = name or self.call_name(node), node.value
        if name.endswith("'") or name in NUMPY_ALIASES and name not in self.declared:
            return None
        # a lowercase word right before "(" is meant as a function: max(x), mean(x), trce(X)
        misspelt = name not in SPELLINGS and name.islower() and len(name) > 1
        if not (name in self.declared or name in self.symbols or name == "I" or name not in SPELLINGS
                and not misspelt and (len(name) == 1 or name[0].isupper() or self.splits(name))):
            return None
        if len(node.kids) != 1:
            raise ParseError(f"{name} is not a function", text=self.text, span=node.span)
        bracket = (node.span[0] + len(raw), node.span[1])
        return self.word(name, (node.span[0], node.span[0] + len(raw))) + \
            [("expr", self.build(node.kids[0]), bracket)]

    def b_call(self, node, name: str | None = None):
        raw, name = node.value, name or self.call_name(node)
        items = self.call_items(node, name) if not any(k.kind == "keyword" for k in node.kids) else None
        if items is not None:
            return self.fold_juxt(items)
        op = SPELLINGS.get(name)
        if op is not None and op.name in ("max", "min") and len(node.kids) == 2 \
                and node.kids[1].kind != "keyword":
            name = "maximum" if op.name == "max" else "minimum"   # max(x, y): the larger of the two
        if name in AXIS_FUNCTIONS or op is not None and op.name in AXIS_FUNCTIONS:
            args, named = self.keywords(node, ("axis", "keepdims") if name != "norm" else ("axis", "keepdims", "ord"),
                                        name)
            if "axis" in named or "keepdims" in named:
                if len(args) != 1:
                    raise ParseError(f"{name} takes one array and axis=", text=self.text, span=node.span)
                x = self.build(args[0])
                return self.along_axis(op.name if op is not None else name, x, args[0].span, named.get("axis"),
                                       named.get("keepdims"), node.span)
            if "ord" in named:
                args = args + [named["ord"]]
        else:
            args, _ = self.keywords(node, (), name)
        if name.endswith("'"):
            return self.derivative_call(name[:-1], args, node)
        if name in NUMPY_ALIASES and name not in self.declared:
            return self.numpy_alias(name, args, node)
        op = SPELLINGS.get(name)
        if op is None:
            close = difflib.get_close_matches(name, [s for s in SPELLINGS if s.isidentifier()], n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else \
                ("sum(x) / n for a mean" if name in ("mean", "average") else
                 "known functions: " + ", ".join(sorted({o.spellings[0] for o in SPELLINGS.values() if o.arity != 0})))
            raise UnknownFunctionError(f"unknown function {raw!r}", text=self.text,
                                       span=(node.span[0], node.span[0] + len(raw)), hint=hint)
        if op.name in ("eye", "zeros", "ones", "commutation"):
            return self.constant_matrix(op, args, node)
        if op.name == "norm" and len(args) == 2:
            order = args[1]
            if not (order.kind == "number" and order.value == "2" and
                    self.dims.shape(self.build(args[0]).shape).cols == 1):
                raise ParseError("only the 2-norm of a vector and the Frobenius norm are supported",
                                 text=self.text, span=order.span, hint="norm(x) or norm(X)")
            args = args[:1]
        if op.arity is not None and len(args) != op.arity:
            raise ParseError(f"{name} takes {op.arity} argument{'s' * (op.arity != 1)}, got {len(args)}",
                             text=self.text, span=node.span)
        return self.apply_op(op, [(self.build(a), a.span) for a in args], node.span)

    def numpy_alias(self, name, args, node):
        """NumPy functions that are spellings of the language: dot(a, b) = a @ b, outer(a, b) = a @ bᵀ,
        multiply(a, b) = a * b, maximum(a, 0) = relu(a), transpose(a) = aᵀ."""
        arity = {"transpose": 1, "where": 3, "clip": 3}.get(name, 2)
        if len(args) != arity:
            raise ParseError(f"{name} takes {arity} argument{'s' * (arity > 1)} here, got {len(args)}",
                             text=self.text, span=node.span)
        built = [(self.build(a), a.span) for a in args]
        if name == "dot" and all(self.dims.shape(e.shape).is_vector for e, _ in built):
            name = "inner"   # np.dot of two vectors is their inner product, whatever their orientation
        if name in ("dot", "matmul"):
            return self.matmul(built, node.span)
        (a, sa), (b, sb) = built[0], built[-1]
        column = lambda e: e.T if self.dims.shape(e.shape).is_row else e   # noqa: E731  (np.inner/outer flatten)
        if name == "inner":
            return self.apply_exprs("matmul", [(column(a).T, sa), (column(b), sb)], node.span)
        if name == "outer":
            return self.apply_exprs("matmul", [(column(a), sa), (column(b).T, sb)], node.span)
        if name == "multiply":
            return self.apply_exprs("mul", built, node.span)
        if name == "transpose":
            return self.apply_exprs("transpose", built, node.span)
        if name == "where":   # where(mask, a, b) = mask ⊙ a + (1 − mask) ⊙ b, for a 0/1 mask
            (m, ms), (a, as_), (b, bs) = built
            return self.apply_exprs("add", [(self.apply_exprs("mul", [(m, ms), (a, as_)], node.span), node.span),
                                            (self.apply_exprs("mul", [(1 - m, ms), (b, bs)], node.span), node.span)],
                                    node.span)
        if name in ("maximum", "minimum"):
            return self.apply_exprs(name, built, node.span)
        if name == "clip":      # clip(x, lo, hi) = minimum(maximum(x, lo), hi)
            low = self.apply_exprs("maximum", built[:2], (node.span[0], built[1][1][1]))
            return self.apply_exprs("minimum", [(low, built[1][1]), built[2]], node.span)
        raise ParseError(f"{name} is not supported", text=self.text, span=node.span)

    def b_method(self, node):
        """x.sum(axis=0), x.dot(y), b.reshape(-1, 1): NumPy's methods, read as their functions."""
        name, obj = node.value, node.kids[0]
        if name in METHOD_FUNCTIONS:
            return self.b_call(Node("call", node.span, node.kids, value=name), name)
        if name == "reshape":
            args, _ = self.keywords(Node("call", node.span, node.kids[1:]), (), "reshape")
            return self.reshape(self.build(obj), [self.reshape_dim(a) for a in args], node)
        if name in ("ravel", "flatten") and len(node.kids) == 1:
            return self.reshape(self.build(obj), [-1], node)
        if name == "copy" and len(node.kids) == 1:
            return self.build(obj)
        raise ParseError(f"unknown method .{name}()", text=self.text, span=node.span,
                         hint="known: " + ", ".join(f".{m}()" for m in sorted(METHOD_FUNCTIONS | {"reshape", "ravel"})))

    def b_keyword(self, node):
        raise ParseError(f"a keyword argument ({node.value}=) outside a call", text=self.text, span=node.span)

    def b_slice(self, node):
        raise ParseError("a slice (:) outside a subscript", text=self.text, span=node.span, hint="x[1:3]")

    def derivative_call(self, name, args, node):
        """f'(z) for an elementwise f: its derivative, as declared with f (relu' = step)."""
        op = SPELLINGS.get(name)
        deriv = op.extra.get("deriv") if op is not None else None
        if deriv is None or len(args) != 1:
            raise UnknownFunctionError(f"unknown function {node.value!r}", text=self.text, span=node.span,
                                       hint="f'(z) is known for the elementwise functions (relu', σ', tanh', …)")
        z = self.build(args[0])
        return deriv(z, call(op, z))

    def constant_matrix(self, op, args, node):
        want = 1 if op.name == "eye" else 2
        if len(args) != want and not (op.name in ("zeros", "ones") and len(args) == 1):
            raise ParseError(f"{op.name} takes {want} dimension{'s' * (want > 1)}", text=self.text, span=node.span)
        dims = []
        for a in args:
            if a.kind == "number" and a.value.isdigit() and self.integer(a.value, a.span, "a dimension") > 0:
                dims.append(int(a.value))
            elif a.kind == "name":
                dims.append(a.value)
                self.dim_names.add(a.value)
            else:
                raise ParseError(f"a dimension of {op.name} must be a name or a positive integer",
                                 text=self.text, span=a.span, hint=f"{op.name}(n)")
        if op.name in ("zeros", "ones") and len(dims) == 1:
            return call(op, params=(dims[0], 1))      # ones(n): 1-D
        out = call(op, params=tuple(dims))
        return self.mark_2d(out) if self.one_d() and dims[-1] == 1 and dims[0] != 1 else out   # ones(n, 1): 2-D

    # -- names -------------------------------------------------------------------------------------
    def splits(self, word: str) -> bool:
        return self.parts(word) is not None

    def word(self, word: str, span) -> list:
        """What a name means: a declared or known symbol, a function, I, or (paper style) a
        product of one-letter symbols: AXC = A X C, W1x = W1 x."""
        if word in self.declared or word in self.symbols:
            return [("expr", self.symbol(word, span), span)]
        if word == "I":
            n = DimVar("n_I")
            return [("expr", call("eye", params=(n,)), span)]
        if word == "𝟙":   # the vector of ones, its length read from the context (𝟙ᵀx = sum(x))
            return [("expr", call("ones", params=(DimVar("n_𝟙"), 1)), span)]
        if word in SPELLINGS and SPELLINGS[word].arity != 0:
            return [("fn", SPELLINGS[word], span)]
        parts = self.parts(word)
        if parts is not None:
            self.split_words.append((word, span))
            out, at = [], span[0]
            for p in parts:
                out += self.word(p, (at, at + len(p)))
                at += len(p)
            return out
        return [("expr", self.symbol(word, span), span)]

    def parts(self, word: str) -> list[str] | None:
        """The one-letter symbols (each with its digits) an undeclared word stands for in paper
        style, or None when it is one name."""
        if self.numpy_style or len(word) < 2 or word in self.declared or word in self.symbols \
                or word in SPELLINGS or word.lower() in GREEK_NAMES or "_" in word or _is_word(word):
            return None
        parts = re.findall(r"[^\d]\d*", word)
        return parts if len(parts) > 1 and "".join(parts) == word else None

    def symbol(self, name: str, span) -> Symbol:
        self.seen_at.append((name, span))
        sym = self.symbols.get(name)
        if sym is not None:
            return sym
        if name in self.declared:
            shape = self.declared[name]
        elif "α" <= name[0] <= "ω" or name.lower() in GREEK_NAMES and not name[0].isupper():
            shape = SCALAR                       # α, λ, lam: scalars; Σ, Λ: matrices
        elif name[0].isupper():
            shape = Shape(DimVar(f"r_{name}"), DimVar(f"c_{name}"))
        else:
            shape = Shape(DimVar(f"n_{name}"), 1)
        props = self.props.get(name, frozenset())
        if props & set(SQUARE_PROPERTIES) and shape.is_scalar:
            named = [p for p in SQUARE_PROPERTIES if p in props and not (p == "symmetric" and "spd" in props)]
            raise AssumptionError(f"{name} is a scalar and cannot be {' or '.join(named)}",
                                  text=self.text, span=span,
                                  hint="symmetric, spd and diagonal are properties of square matrices; "
                                       f"a scalar may be positive, or declare the shape of {name}")
        if props & set(SQUARE_PROPERTIES) and not self.dims.same(shape.rows, shape.cols):
            raise AssumptionError(f"{name} is assumed {'/'.join(sorted(props))} but has shape {shape}",
                                  text=self.text, span=span, hint="only a square matrix can be symmetric, spd or diagonal")
        sym = Symbol(name, shape, props)
        self.symbols[name] = sym
        self.first_seen[name] = span[0]
        return sym

    # -- applying ops --------------------------------------------------------------------------------
    def apply(self, name: str, kids: list, span) -> Expr:
        return self.apply_exprs(name, [(self.build(k), k.span) for k in kids], span)

    def apply_exprs(self, name: str, args: list, span) -> Expr:
        return self.apply_op(OPS[name], args, span)

    def apply_op(self, op, args: list, span) -> Expr:
        if op.name == "power" and isinstance(args[1][0], Const) and args[1][0].value < 0 and (
                isinstance(args[0][0], Const) and args[0][0].value == 0 or _is_constant_zero(args[0][0])):
            raise ParseError("division by zero: 0 to a negative power", text=self.text, span=span)
        if self.numpy_style and op.name in BROADCASTING:
            args = self.broadcast(args)
        try:
            return self.result_kind(op.name, args, call(op, *[a for a, _ in args]))
        except ShapeMismatch as m:
            spans = [s for _, s in args]
            refs = m.refs if m.refs is not None else tuple(range(len(spans)))
            if any((max(r) if isinstance(r, tuple) else r) >= len(spans) for r in refs):
                refs = tuple(range(len(spans)))   # raised by a nested constructor: name the operands
            names = [self.describe(self.ref_span(r, spans)) for r in refs]
            if len(spans) > 2 and len(refs) == 2 and isinstance(refs[0], tuple) and not isinstance(refs[1], tuple):
                span = (spans[refs[0][1]][0], spans[refs[1]][1])   # in a long product: the two factors that clash
            hint = tidy_hint(m.hint_template.format(*(n if _simple(n) else f"({n})" for n in names))) \
                if m.hint_template else None
            notes = self.conventions_in((min(s[0] for s in spans), max(s[1] for s in spans)))
            hint = "; ".join([h for h in [hint] if h] + notes) or None
            raise ShapeError(m.template.format(*names), text=self.text, span=span, hint=hint) from None

    def conventions_in(self, span) -> list[str]:
        """What a reading by convention did inside `span`, said when shapes then fail to fit: a
        word split into one-letter symbols, a Greek letter taken for a scalar."""
        inside = lambda s: span[0] <= s[0] and s[1] <= span[1]   # noqa: E731
        notes = [f"{w} was read as the product {' '.join(re.findall(r'[^0-9]?[0-9]*', w)[:-1])}; "
                 f"declare {w} (a shape for it) to keep it one name" for w, s in self.split_words
                 if inside(s) and len(w) > 2]   # Wx, Xβ: two letters side by side are a product
        greek = sorted({n for n, s in self.seen_at if inside(s) and n not in self.declared
                        and self.symbols[n].shape.is_scalar})
        notes += [f"{n} is a scalar by convention (a Greek letter); declare its shape if it is a vector "
                  f"or a matrix" for n in greek]
        return notes

    @staticmethod
    def ref_span(ref, spans):
        if isinstance(ref, tuple):
            return (spans[ref[0]][0], spans[ref[1]][1])
        return spans[ref]

    def describe(self, span) -> str:
        return self.text[span[0]:span[1]].strip()

    # -- the end: name the free dims, rebuild with known shapes ----------------------------------------
    def namer(self):
        """Names for the free dims: n, m, k, … in order of first appearance (the symbols' dims,
        then, as asked for, those of eye(·), ones(·) and the like); a product of dims is named
        from its factors (n·k). Returns (name of a dim, the names given so far)."""
        find, products = self.dims.find, self.dims.products
        names: dict = {}
        taken = {d for s in self.declared.values() for d in s if isinstance(d, str)} | set(self.symbols)
        taken |= self.dim_names
        pool = (n for n in itertools.chain(DIM_POOL, (f"n{i}" for i in itertools.count(1))) if n not in taken)

        def fin(d):
            r = find(d)
            if type(r) is not DimVar:
                return r
            name = names.get(r)
            if name is None:
                if r in products:
                    name = names[r] = dim_mul(fin(products[r][0]), fin(products[r][1]))
                else:
                    name = names[r] = next(pool)
            return name

        for name in sorted(self.symbols, key=self.first_seen.__getitem__):
            fin(self.symbols[name].shape.rows)
            fin(self.symbols[name].shape.cols)
        return fin, names

    def name_in_message(self, d: DimVar) -> str:
        """A dim in an error raised while reading, named as `shapes` would name it."""
        state = (len(self.symbols), len(self.dims.parent))
        if self._message_names is None or self._message_names[0] != state:
            self._message_names = (state, self.namer()[0])
        return str(self._message_names[1](d))

    def finish(self, expr: Expr) -> Reading:
        """Give the free dims their names and rebuild the nodes with their final shapes. Normal
        forms and shapes were settled while reading; only the dims change, so nodes are remade
        without their constructors."""
        self.dims.namer = None
        fin, names = self.namer()
        shapes: dict = {}

        def fin_shape(s):
            out = shapes.get(s)
            if out is None:
                out = shapes[s] = Shape(fin(s.rows), fin(s.cols)) if (type(s.rows) is DimVar or
                                                                       type(s.cols) is DimVar) else s
            return out

        names_in_order = sorted(self.symbols, key=self.first_seen.__getitem__)
        fresh = {name: Symbol(name, fin_shape(self.symbols[name].shape), self.symbols[name].props)
                 for name in names_in_order}
        memo: dict[int, Expr] = {}
        used: set[str] = set()
        remade = Call.remade

        def remake(node):   # recursion is bounded: reading limits nesting (syntax.MAX_DEPTH)
            kind = type(node)
            if kind is Symbol:
                used.add(node.name)
                return fresh[node.name]
            if kind is not Call:
                return node
            out = memo.get(id(node))
            if out is None:
                args = node.args
                new = (remake(args[0]),) if len(args) == 1 else tuple([remake(a) for a in args])
                out = memo[id(node)] = remade(node, new, tuple([fin(p) for p in node.params]) if node.params else (),
                                              fin_shape(node.shape))
            return out

        final = remake(expr)
        symbols = {n: fresh[n] for n in names_in_order if n in used}
        inferred = [n for r, n in names.items() if r not in self.dims.products]
        return Reading(self.text, final, symbols, inferred, "numpy" if self.numpy_style else "math",
                       "columns" if self.columns or not self.numpy_style else "1-D")


_POSTFIXES = ("transpose", "superscript", "caret")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_MODULE_PREFIX = re.compile(r"^(?:np|numpy|scipy)\.")
_BUILDERS = {name[2:]: getattr(_Builder, name) for name in dir(_Builder) if name.startswith("b_")}
_PRODUCTS = {"@": "matmul", "·": "matmul", "⋅": "matmul", "/": "div", "⊗": "kron"}   # the rest are elementwise


def _is_word(word: str) -> bool:
    """A lowercase run of four or more letters (logits, delta, loss) is a name, not a product of
    one-letter symbols: products on paper are short (xy, AXC) and mix cases (xᵀAx, Wx)."""
    return len(word) >= 4 and word.isascii() and word.isalpha() and word.islower()


def _is_constant_zero(e: Expr) -> bool:
    """Whether `e` is a number written as arithmetic that comes to 0, such as (1 − 1) or 0²: its
    value by the ops' own numeric definitions (numpy is loaded only for such an expression)."""
    if not isinstance(e, Call) or not e.shape.is_scalar:
        return False
    for node in e.walk():
        if isinstance(node, Symbol) or isinstance(node, Call) and node.params:
            return False
    from .evaluate import evaluate
    try:
        return evaluate(e, {}, {}) == 0
    except (ArithmeticError, ValueError, ShapeError):
        return False


def _simple(text: str) -> bool:
    """Needs no parentheses in a hint: a name, x.T, or a text already in parentheses."""
    return closed_group(text) or re.fullmatch(r"[\w.']+", text) is not None


def _declares_columns(shapes) -> bool:
    """Whether a vector is declared 2-D, (n, 1) or (1, n): its text is written with columns."""
    if not isinstance(shapes, Mapping):
        return False
    for spec in shapes.values():
        if isinstance(spec, str):
            spec = [p for p in _SPLIT_RE.split(spec.strip().strip("()[]").strip()) if p]
        if isinstance(spec, (tuple, list)) and len(spec) == 2 and sum(str(d).strip() == "1" for d in spec) == 1:
            return True
    return False


def declared_shapes(shapes) -> dict[str, Shape]:
    """The `shapes=` argument read: a mapping of names to shapes (see shapes.parse_shape)."""
    if shapes is None:
        return {}
    if not isinstance(shapes, Mapping):
        raise ShapeSpecError(f"shapes must be a dict of name → shape, got {_kind(shapes)}",
                             hint='shapes={"A": ("n", "n"), "x": "n", "alpha": ()}')
    out = {}
    for name, spec in shapes.items():
        if not isinstance(name, str) or not name.strip():
            raise ShapeSpecError(f"a name in shapes must be a non-empty str, got {name!r}",
                                 hint='shapes={"A": ("n", "n")}')
        out[name] = parse_shape(spec, name)
    return out


def _kind(value) -> str:
    return f"{type(value).__name__} {value!r}" if len(repr(value)) < 40 else type(value).__name__


def _read_assumptions(assume) -> dict[str, frozenset]:
    """The `assume=` argument read: a mapping of names to properties ("spd", "symmetric, positive",
    or a list of them)."""
    if assume is None:
        return {}
    if not isinstance(assume, Mapping):
        raise AssumptionError(f"assume must be a dict of name → properties, got {_kind(assume)}",
                              hint='assume={"A": "spd", "x": "positive"}')
    out: dict[str, frozenset] = {}
    for name, props in assume.items():
        if not isinstance(name, str) or not name.strip():
            raise AssumptionError(f"a name in assume must be a non-empty str, got {name!r}",
                                  hint='assume={"A": "spd"}')
        if isinstance(props, str):
            props = [p for p in re.split(r"[,\s]+", props) if p]
        elif not isinstance(props, (list, tuple, set, frozenset)) or not all(isinstance(p, str) for p in props):
            raise AssumptionError(f"the properties of {name} must be a str or a list of str, got {_kind(props)}",
                                  hint=f'assume={{"{name}": "symmetric"}}; known: ' + ", ".join(PROPERTIES))
        got = set()
        for p in props:
            p = p.lower()
            p = {"pd": "spd", "positive_definite": "spd", "sym": "symmetric", "diag": "diagonal",
                 "pos": "positive"}.get(p, p)
            if p not in PROPERTIES:
                close = difflib.get_close_matches(p, PROPERTIES, n=1)
                raise AssumptionError(f"unknown property {p!r} for {name}",
                                      hint=f"did you mean {close[0]}?" if close else "known: " + ", ".join(PROPERTIES))
            got.add(p)
        if "spd" in got:
            got.add("symmetric")
        out[name] = frozenset(got)
    return out
