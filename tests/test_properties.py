"""Property tests of the parser: printed expressions parse back, and no input escapes as a non-MatdiffError."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from matdiff import MatdiffError, ParseError, ShapeError, parse, read

N, M = "n", "m"
SHAPES = {"A": (N, N), "B": (N, N), "C": (N, M), "D": (M, N), "x": (N,), "y": (N,), "z": (M,),
          "a": (), "b": ()}
# shape (rows, cols) → symbols of that shape; 1 is the unit dim of vectors and scalars
LEAVES = {(N, N): ["A", "B"], (N, M): ["C"], (M, N): ["D"], (N, 1): ["x", "y"], (M, 1): ["z"],
          (1, 1): ["a", "b"], (M, M): [], (1, N): [], (1, M): []}
TARGETS = list(LEAVES)
ELEMENTWISE = ["exp", "log", "sigmoid", "tanh", "relu", "softmax", "np.exp", "abs", "sqrt"]
TO_SCALAR = ["sum", "norm", "logsumexp"]
SQUARE_TO_SCALAR = ["trace", "det", "logdet"]
DIMS = [N, M]


def _paren(text: str, wrap: bool) -> str:
    return f"({text})" if wrap else text


@dataclass(frozen=True)
class Vocabulary:
    """What random expressions are made of. test_paper_roundtrip widens it (more names, numbers
    and functions, Kronecker products, scalars on either side)."""

    leaves: dict                     # shape (rows, cols) → symbols of that shape
    numbers: tuple                   # scalar literals besides the integers 0..99
    functions: tuple                 # elementwise functions
    extra_kinds: tuple = ()          # further kinds of node (kron), or repeats to weigh kinds
    extra_scalar_kinds: tuple = ()
    scalar_exponents: tuple = ()     # exponents besides integers, for scalar bases
    scalar_first: bool = False       # a scaled term may put its scalar first
    unit_inner: bool = False         # a matrix product may have inner dim 1 (an outer product)


def _leaf(vocab: Vocabulary, shape):
    rows, cols = shape
    leaves = vocab.leaves
    options = [st.sampled_from(leaves[shape])] if leaves[shape] else []
    if (cols, rows) in leaves and leaves[(cols, rows)] and shape != (1, 1):
        options.append(st.sampled_from(leaves[(cols, rows)]).map(lambda s: s + ".T"))
    if shape == (1, 1):
        options += [st.integers(0, 99).map(str), st.sampled_from(vocab.numbers)]
    if rows == cols and rows != 1:
        options.append(st.just(f"eye({rows})"))
    return st.one_of(options)


@st.composite
def expression(draw, vocab: Vocabulary, shape=(N, 1), depth=0):
    """A text whose expression should have `shape` (it may not, when parentheses are dropped)."""
    rows, cols = shape
    if depth >= 4 or draw(st.integers(0, 4 - depth)) == 0:
        return draw(_leaf(vocab, shape))
    sub = lambda s: expression(vocab, s, depth + 1)  # noqa: E731
    wrap = draw(st.booleans())
    kinds = ["binary", "scaled", "matmul", "transpose", "unary", "neg", "power", *vocab.extra_kinds]
    if shape == (1, 1):
        kinds += ["reduce", "square", *vocab.extra_scalar_kinds]
    elif rows == cols:
        kinds += ["inv", "diag"]
    elif cols == 1:
        kinds += ["diag"]
    kind = draw(st.sampled_from(kinds))
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        return f"{_paren(draw(sub(shape)), wrap)} {op} {_paren(_nonzero(op, draw(sub(shape))), True)}"
    if kind == "scaled":
        op = draw(st.sampled_from(["*", "/", "+"]))
        if vocab.scalar_first and draw(st.booleans()):
            return f"{_paren(draw(sub((1, 1))), True)} {op} {_paren(_nonzero(op, draw(sub(shape))), True)}"
        return f"{_paren(draw(sub(shape)), wrap)} {op} {_paren(_nonzero(op, draw(sub((1, 1)))), True)}"
    if kind == "matmul":
        inner = draw(st.sampled_from(DIMS + ([1] if vocab.unit_inner else [])))
        return f"{_paren(draw(sub((rows, inner))), True)} @ {_paren(draw(sub((inner, cols))), wrap)}"
    if kind == "transpose":
        return f"({draw(sub((cols, rows)))}).T"
    if kind == "unary":
        return f"{draw(st.sampled_from(vocab.functions))}({draw(sub(shape))})"
    if kind == "neg":
        return f"-{_paren(draw(sub(shape)), True)}"
    if kind == "power":
        k = draw(st.sampled_from(["2", "3", "1", "-1", "(-2)", *(vocab.scalar_exponents if shape == (1, 1) else ())]))
        return f"({draw(sub(shape))}) ** {k}"
    if kind == "kron":   # kept to shapes without products of dims: x ⊗ yᵀ, a ⊗ X, X ⊗ a
        if draw(st.booleans()):
            return f"kron({draw(sub((rows, 1)))}, {draw(sub((1, cols)))})"
        pair = [draw(sub(shape)), draw(sub((1, 1)))]
        return f"kron({', '.join(pair if draw(st.booleans()) else pair[::-1])})"
    if kind == "reduce":
        arg = draw(sub(draw(st.sampled_from(TARGETS))))
        return f"{draw(st.sampled_from(TO_SCALAR))}({arg})"
    if kind == "square":
        d = draw(st.sampled_from(DIMS))
        return f"{draw(st.sampled_from(SQUARE_TO_SCALAR))}({draw(sub((d, d)))})"
    if kind == "inv":
        return f"inv({draw(sub(shape))})"
    return f"diag({draw(sub((rows, rows) if cols == 1 else (rows, 1)))})"


def _nonzero(op: str, operand: str) -> str:
    """A divisor that is the number 0 is an error (division by zero); divide by 2 instead."""
    return "2" if op == "/" and operand.replace("-", "").strip("() ") in ("0", "0.0") else operand


VOCABULARY = Vocabulary(LEAVES, ("0.5", "2.5", "1e-3", "3.0", "0.25"), tuple(ELEMENTWISE))
texts = st.sampled_from(TARGETS).flatmap(lambda s: expression(VOCABULARY, s))


def _parse_or_skip(text):
    """The expression of a generated text; texts that are badly shaped (dropped parentheses) are skipped."""
    try:
        return parse(text, SHAPES)
    except ShapeError:
        assume(False)
    except ParseError as e:   # a divisor that folds to 0 (0 * x): an error, rightly
        assume("division by zero" not in e.message)
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
@example("(2).T * x")
@example("x + (-A) @ (-x)")
@example("2 * (3 * (A @ x))")
@example("x + -1 * -1 * x")
def test_str_parses_back(text):
    e = _parse_or_skip(text)
    printed = str(e)
    again = parse(printed, SHAPES)
    assert again == e, f"{text!r} → {printed!r} → {str(again)!r}"
    assert again.shape == e.shape
    assert hash(again) == hash(e)
    assert str(again) == printed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_printers_give_text(text):
    e = _parse_or_skip(text)
    for out in (str(e), e.to_unicode(), e.to_latex()):
        assert isinstance(out, str) and out.strip()


# -- random strings over the alphabet -----------------------------------------------------------------

ALPHABET = ("abxyzABCWXIT01239 +-*/@^.()ᵀ⁻¹²‖|,_{}'σΣαβλ−⊙∘·" + "\u00a0\t\n")
WORDS = ["exp", "log", "trace", "tr", "det", "logdet", "inv", "norm", "sum", "eye", "np.", "linalg.",
         ".T", "**", "||", "‖", "⁻¹", "ᵀ", "σ", "diag", "softmax", "relu", "x", "A", "(", ")", "@", "e5"]
noise = st.lists(st.one_of(st.sampled_from(WORDS), st.text(ALPHABET, min_size=1, max_size=3)),
                 max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(noise)
@example("eye(m) * -eye(n)")
def test_random_text_raises_only_matdiff_errors(text):
    try:
        r = read(text)
    except MatdiffError as err:
        assert err.span is None or 0 <= err.span[0] <= len(text)
        assert str(err)
        return
    e = r.expr
    for out in (str(e), e.to_unicode(), e.to_latex()):
        assert isinstance(out, str) and out.strip()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_unicode_raises_only_matdiff_errors(text):
    try:
        parse(text)
    except MatdiffError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(st.one_of(texts, noise))
@example("xXX")
def test_inferred_reading_prints_back(text):
    """What was read with invented dims parses back to itself once those shapes are declared."""
    try:
        r = read(text)
    except MatdiffError:
        assume(False)
    shapes = {name: s.shape for name, s in r.symbols.items()}
    again = parse(r.read_as, shapes)
    assert again == r.expr, f"{text!r} read as {r.read_as!r}, which reads back as {str(again)!r}"
    assert again.shape == r.expr.shape


# -- the LALR runner against lark's own --------------------------------------------------------------

def _lark_reference():
    from lark import Lark

    from matdiff import syntax
    return Lark(syntax._grammar_text(), parser="lalr", lexer="basic", maybe_placeholders=True,
                transformer=syntax._tree_builder())


def _outline(node):
    """A syntax tree as plain data: kind, span, value and children."""
    from matdiff.syntax import Node
    if not isinstance(node, Node):
        return str(node)
    value = [v if not isinstance(v, tuple) else v[0] for v in node.value] if isinstance(node.value, list) else node.value
    return (node.kind, node.span, value, [_outline(k) for k in node.kids])


def _run(parse, text):
    """What a parser makes of `text`: the tree outline, or where and on what it failed."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    from matdiff import syntax
    try:
        return ("tree", _outline(parse(text)))
    except (UnexpectedCharacters, syntax._BadCharacter) as e:
        return ("bad character", getattr(e, "pos", None) if isinstance(e, syntax._BadCharacter) else e.pos_in_stream)
    except (UnexpectedToken, syntax._UnexpectedToken) as e:
        return ("unexpected", e.token.type, e.token.start_pos if e.token.type != "$END" else None)
    except syntax._TooDeep as e:
        return ("too deep", e.span)


_REFERENCE = []


@settings(max_examples=400, deadline=None)
@given(st.one_of(texts, noise))
@example("‖x‖_F + tr(X⁻¹) - 1/2 xᵀAx")
@example("f(x, y,)")
@example("x  ")
def test_table_runner_agrees_with_lark(text):
    """matdiff runs lark's LALR tables with its own lexer and loop; on any text it must build the
    same tree as lark's own runtime, or fail at the same token."""
    from matdiff import syntax
    if not _REFERENCE:
        _REFERENCE.append(_lark_reference())
    marked = syntax._mark_bars(text)
    assert _run(syntax._parser().parse, marked) == _run(_REFERENCE[0].parse, marked)
