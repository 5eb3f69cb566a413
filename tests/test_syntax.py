"""Parser: equivalent spellings, shape inference, naming conventions, styles, assumptions, printing."""

from __future__ import annotations

import pytest

import matdiff
from matdiff import Shape, Symbol, parse, read

SQ = {"X": ("n", "n"), "A": ("n", "n"), "B": ("n", "n"), "C": ("n", "n")}
VEC = {"x": ("n",), "y": ("n",)}

# (paper or alternative spelling, canonical NumPy spelling, declared shapes or None)
EQUIVALENT = [
    ("xᵀAx", "x.T @ A @ x", None),
    ("AXC", "A @ X @ C", None),
    ("σ(Wx+b)", "sigmoid(W @ x + b)", None),
    ("tr(AXC)", "trace(A @ X @ C)", None),
    ("‖Wx − y‖²", "norm(W @ x - y)**2", None),
    ("X⁻¹", "inv(X)", None),
    ("log det X", "logdet(X)", None),
    ("A ⊙ B", "A * B", None),
    ("A ∘ B", "A * B", None),
    ("A⊙B", "A * B", None),
    ("A'", "A.T", None),
    ("A^T", "A.T", None),
    ("A^{T}", "A.T", None),
    ("Aᵀ", "A.T", None),
    ("transpose(A)", "A.T", None),
    ("np.transpose(A)", "A.T", None),
    ("A^-1", "inv(A)", None),
    ("A^{-1}", "inv(A)", None),
    ("A^(-1)", "inv(A)", None),
    ("np.linalg.inv(A)", "inv(A)", None),
    ("X⁻ᵀ", "inv(X).T", None),
    ("log(det(X))", "logdet(X)", None),
    ("log det(X)", "logdet(X)", None),
    ("np.linalg.det(X)", "det(X)", None),
    ("||x||", "‖x‖", None),
    ("||x||", "norm(x)", None),
    ("‖X‖_F", "norm(X)", None),
    ("‖X‖_{F}", "norm(X)", None),
    ("np.linalg.norm(x)", "norm(x)", None),
    ("‖x‖₂", "norm(x)", None),
    ("‖x‖²", "norm(x) ** 2", None),
    ("||Wx - y||^2", "norm(W @ x - y) ** 2", None),
    ("A − B", "A - B", None),
    ("−x", "-x", None),
    ("2A", "2 * A", None),
    ("3.5A", "3.5 * A", None),
    ("2x", "2 * x", None),
    ("αA", "α * A", None),
    ("λ‖x‖²", "λ * norm(x) ** 2", None),
    ("A + I", "A + eye(n)", {"A": ("n", "n")}),
    ("I + A", "eye(3) + A", {"A": (3, 3)}),
    ("AI", "A @ eye(n)", {"A": ("n", "n")}),
    ("np.exp(x)", "exp(x)", None),
    ("ln(x)", "log(x)", None),
    ("numpy.exp(x)", "exp(x)", None),
    ("Σ(x)", "sum(x)", None),
    ("np.sum(X)", "sum(X)", None),
    ("tr(X)", "trace(X)", None),
    ("Tr(X)", "trace(X)", None),
    ("np.trace(X)", "trace(X)", None),
    ("x·y", "x.T @ y", None),
    ("xᵀy", "x.T @ y", None),
    ("x'Ax", "x.T @ A @ x", None),
    ("A(B + C)", "A @ (B + C)", None),
    ("2 * A @ x", "2 * (A @ x)", None),
    ("2Ax", "2 * (A @ x)", None),
    ("A B", "A @ B", None),
    ("A·B", "A @ B", None),
    ("A⋅B", "A @ B", None),
    ("AᵀB", "A.T @ B", None),
    ("ABᵀ", "A @ B.T", None),
    ("AB'", "A @ B.T", None),
    ("xyᵀ", "x @ y.T", None),
    ("AX⁻¹", "A @ inv(X)", None),
    ("A^T B", "A.T @ B", None),
    ("(AB)ᵀ", "(A @ B).T", None),
    ("{A + B}C", "(A + B) @ C", None),
    ("Wx + b", "W @ x + b", None),
    ("W1x", "W1 @ x", None),
    ("X²", "X @ X", None),
    ("X^2", "X @ X", None),
    ("X⁻²", "inv(X) @ inv(X)", None),
    ("α²", "α ** 2", None),
    ("expit(z)", "sigmoid(z)", None),
    ("scipy.special.expit(z)", "sigmoid(z)", None),
    ("lse(x)", "logsumexp(x)", None),
    ("relu(Wx)", "relu(W @ x)", None),
    ("exp(x)", "np.exp(x)", VEC),
    ("Ax/2", "A @ x / 2", None),
    ("x.T@A@x", "x.T @ A @ x", None),
    ("x.T A x", "x.T @ A @ x", None),
    ("ax", "a * x", {"a": ()}),
    ("tr(AXC)", "trace(A @ X @ C)", SQ),
    # paper habits: a divisor is one factor, a function name takes the factors up to the next one
    ("λ/2 ‖w‖²", "(λ / 2) * norm(w)**2", None),
    ("‖Xw − y‖²/2 + λ/2 ‖w‖²", "norm(X @ w - y)**2 / 2 + (λ / 2) * norm(w)**2", None),
    ("1/2 xᵀAx", "(1 / 2) * (x.T @ A @ x)", None),
    ("½xᵀAx", "(1 / 2) * (x.T @ A @ x)", None),
    ("det X det Y", "det(X) * det(Y)", None),
    ("tr AXB tr C", "trace(A @ X @ B) * trace(C)", None),
    ("2 log det X", "2 * logdet(X)", None),
    ("xᵀy z", "(x.T @ y) * z", None),
    ("x.T @ y @ z", "(x.T @ y) * z", None),
    ("W_{1}x + b_{1}", "W_1 @ x + b_1", None),
    ("A ⊗ B", "kron(A, B)", None),
    ("x⊙²", "x ** 2", None),
    ("‖X‖²_F", "norm(X) ** 2", None),
    ("‖x‖²₂", "norm(x) ** 2", None),
    ("e^{-x}", "exp(-x)", None),
    ("e^x + 1", "exp(x) + 1", None),
    ("ReLU(Wx)", "relu(W @ x)", None),
    ("Log(x) + Det(X)", "log(x) + det(X)", None),
    ("softmax(logits)", "softmax(logits)", {"logits": ("n",)}),
    ("sum(delta * h)", "sum(delta * h)", {"delta": ("n",), "h": ("n",)}),
]


@pytest.mark.parametrize("a, b, shapes", EQUIVALENT, ids=[f"{a} == {b}" for a, b, _ in EQUIVALENT])
def test_equivalent_spellings(a, b, shapes):
    ea, eb = parse(a, shapes), parse(b, shapes)
    assert ea == eb
    assert ea.shape == eb.shape
    assert hash(ea) == hash(eb)


@pytest.mark.parametrize("a, b, shapes", EQUIVALENT, ids=[a for a, _, _ in EQUIVALENT])
def test_str_parses_back(a, b, shapes):
    r = read(a, shapes)
    shapes_of_symbols = {n: s.shape for n, s in r.symbols.items()}
    again = parse(str(r.expr), {**(shapes or {}), **shapes_of_symbols})
    assert again == r.expr
    assert r.read_as == str(r.expr)


@pytest.mark.parametrize("text", ["0.1 * x", "1e-300 * x", "2.50 * x", "1e20 * x",
                                  "123456789012345678901234567890 * x", ".5 * x"])
def test_numbers_print_back(text):
    e = parse(text, VEC)
    assert parse(str(e), VEC) == e


def test_numbers_are_read_as_values():
    assert parse("0.5 * x", VEC) == parse(".5 * x", VEC) == parse("5e-1 * x", VEC)
    assert parse("2.0 * x", VEC) == parse("2 * x", VEC)


# -- shape inference ------------------------------------------------------------------------

def test_quadratic_form_infers_square_and_scalar():
    r = read("x.T @ A @ x")
    x, A = r.symbols["x"], r.symbols["A"]
    assert A.shape.rows == A.shape.cols == x.shape.rows
    assert x.shape.cols == 1
    assert r.expr.shape == Shape(1, 1) and r.expr.shape.is_scalar
    assert r.inferred == [x.shape.rows]


def test_chain_infers_linked_dims():
    r = read("AXC")
    A, X, C = (r.symbols[k].shape for k in "AXC")
    assert A.cols == X.rows and X.cols == C.rows
    assert r.expr.shape == Shape(A.rows, C.cols)
    assert len({A.rows, A.cols, X.cols, C.cols}) == 4
    assert sorted(r.inferred) == sorted({A.rows, A.cols, X.cols, C.cols})


def test_trace_closes_the_chain():
    r = read("tr(AXC)")
    assert r.symbols["C"].shape.cols == r.symbols["A"].shape.rows
    assert r.expr.shape.is_scalar


@pytest.mark.parametrize("spec, expected", [
    (("n", "n"), Shape("n", "n")),
    (("n", "m"), Shape("n", "m")),
    ((3, 4), Shape(3, 4)),
    ("n,n", Shape("n", "n")),
    ("n, m", Shape("n", "m")),
    ("n x m", Shape("n", "m")),
    ("n×m", Shape("n", "m")),
    ("3,4", Shape(3, 4)),
    ((), Shape(1, 1)),
    ("", Shape(1, 1)),
    (("n",), Shape("n", 1)),
    ("n", Shape("n", 1)),
    ([5], Shape(5, 1)),
    (Shape("n", "m"), Shape("n", "m")),
])
def test_declared_shape_forms(spec, expected):
    r = read("A", {"A": spec})
    assert r.expr.shape == expected
    assert r.symbols["A"].shape == expected
    assert r.inferred == []


def test_declared_shapes_propagate():
    r = read("A @ x", {"A": "n x m"})
    assert r.symbols["x"].shape == Shape("m", 1)
    assert r.expr.shape == Shape("n", 1)
    assert r.inferred == []


def test_invented_dims_avoid_declared_dims_and_symbol_names():
    r = read("A @ B", {"A": ("n", "n")})
    assert r.symbols["B"].shape.rows == "n"
    assert r.symbols["B"].shape.cols != "n"
    r = read("n.T @ x")
    dim = r.symbols["x"].shape.rows
    assert dim == r.symbols["n"].shape.rows
    assert dim != "n"


def test_same_declared_shapes_different_notation():
    shapes = {"W": (3, 4), "x": (4,), "b": (3,)}
    e = parse("σ(Wx + b)", shapes)
    assert e.shape == Shape(3, 1)
    assert e == parse("sigmoid(W @ x + b)", shapes)


# -- naming by convention, and the two styles ------------------------------------------------------

@pytest.mark.parametrize("name, kind", [
    ("x", "vector"), ("x_hat", "vector"), ("delta.T", "vector"),
    ("X", "matrix"), ("W1", "matrix"),
    ("α", "scalar"), ("λ", "scalar"), ("alpha", "scalar"), ("lam", "scalar"),
    ("Σ", "matrix"), ("Λ", "matrix"),          # uppercase Greek: matrices (Σ alone is not the sum)
])
def test_undeclared_symbols_by_convention(name, kind):
    s = read(name).symbols[name.removesuffix(".T")].shape
    if kind == "scalar":
        assert s.is_scalar
    elif kind == "vector":
        assert s.cols == 1 and isinstance(s.rows, str)
    else:
        assert isinstance(s.rows, str) and isinstance(s.cols, str) and s.rows != s.cols


def test_symbols_in_order_of_appearance():
    assert list(read("b + Wx").symbols) == ["b", "W", "x"]
    assert all(isinstance(s, Symbol) for s in read("b + Wx").symbols.values())


def test_math_style_splits_words():
    r = read("W1x")
    assert r.style == "math"
    assert list(r.symbols) == ["W1", "x"]
    assert r.expr == parse("W1 @ x")
    assert list(read("AXC").symbols) == ["A", "X", "C"]


def test_numpy_style_keeps_names():
    r = read("delta @ x.T")
    assert r.style == "numpy"
    assert list(r.symbols) == ["delta", "x"]
    assert r.expr.shape == Shape(r.symbols["delta"].shape.rows, r.symbols["x"].shape.rows)
    assert list(read("AXC @ x").symbols) == ["AXC", "x"]
    assert list(read("W1 @ x_hat").symbols) == ["W1", "x_hat"]


def test_math_style_keeps_underscored_and_greek_names():
    assert list(read("x_hat + y").symbols) == ["x_hat", "y"]
    assert read("alpha x").symbols["alpha"].shape.is_scalar


def test_declared_name_and_function_win():
    r = read("Wx", {"Wx": ("n",)})
    assert list(r.symbols) == ["Wx"]
    assert read("exp(x)").expr == parse("np.exp(x)")
    assert list(read("exp(x)").symbols) == ["x"]


# -- assumptions ------------------------------------------------------------------------------

@pytest.mark.parametrize("spec, props", [
    ("symmetric", {"symmetric"}),
    ("spd", {"spd", "symmetric"}),
    ("pd", {"spd", "symmetric"}),
    (["diagonal", "positive"], {"diagonal", "positive"}),
    ("sym, positive", {"symmetric", "positive"}),
])
def test_assumptions_kept_on_symbols(spec, props):
    r = read("A + B", assume={"A": spec})
    assert r.symbols["A"].props == frozenset(props)
    assert r.symbols["B"].props == frozenset()
    assert r.symbols["A"].shape.rows == r.symbols["A"].shape.cols
    assert r.expr.symbols()["A"].props == frozenset(props)


def test_assumptions_distinguish_symbols():
    assert parse("A", assume={"A": "symmetric"}) != parse("A")


# -- printing --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shapes, unicode", [
    ("x.T @ A @ x", None, "xᵀAx"),
    ("inv(X)", None, "X⁻¹"),
    ("sigmoid(W @ x + b)", None, "σ(Wx + b)"),
    ("norm(W @ x - y) ** 2", None, "‖Wx − y‖²"),
    ("trace(A @ X @ C)", None, "tr(AXC)"),
    ("logdet(X)", None, "log det X"),
    ("A * B", None, "A ⊙ B"),
    ("2 * A @ x", None, "2Ax"),
    ("A.T", None, "Aᵀ"),
])
def test_to_unicode(text, shapes, unicode):
    e = parse(text, shapes)
    assert e.to_unicode() == unicode
    assert parse(unicode, {n: s.shape for n, s in e.symbols().items()}) == e


@pytest.mark.parametrize("text, shapes", [
    ("A @ B.T", None), ("x @ y.T", None), ("A @ inv(X)", None), ("(A @ B).T", None),
    ("inv(D @ D.T)", {"D": ("m", "n")}), ("a * sum(y)", {"a": ()}), ("W1 @ x + b", None),
    ("alpha * A @ x", None),
])
def test_paper_form_reads_back(text, shapes):
    e = parse(text, shapes)
    declared = {n: s.shape for n, s in e.symbols().items()}
    assert parse(e.to_unicode(), declared) == e, e.to_unicode()


@pytest.mark.parametrize("text", ["x.T @ A @ x", "A.T", "(A @ B).T", "inv(X).T"])
def test_to_latex_transpose(text):
    latex = parse(text).to_latex()
    assert isinstance(latex, str) and r"\top" in latex
    assert "ᵀ" not in latex


def test_to_latex_others():
    assert r"\sigma" in parse("σ(Wx+b)").to_latex()
    assert "^{-1}" in parse("inv(X)").to_latex()
    assert r"\odot" in parse("A * B").to_latex()


# -- equality and hashing --------------------------------------------------------------------------

def test_equal_exprs_hash_equal_and_key_dicts():
    table = {}
    for a, b, s in EQUIVALENT[:14]:
        table[parse(b, s)] = b
    for a, b, s in EQUIVALENT[:14]:
        assert table[parse(a, s)] == b
    assert len(table) == len({b for _, b, _ in EQUIVALENT[:14]})
    assert len({parse("xᵀAx"), parse("x.T @ A @ x"), parse("x' A x")}) == 1


def test_different_exprs_are_not_equal():
    assert parse("A @ B") != parse("B @ A")
    assert parse("A.T") != parse("A")
    assert parse("A * B") != parse("A @ B", {"A": ("n", "n"), "B": ("n", "n")})
    assert parse("x", {"x": ("n",)}) != parse("x", {"x": ("m",)})


def test_exprs_are_immutable():
    e = parse("A @ B")
    with pytest.raises(AttributeError):
        e.shape = Shape(1, 1)


@pytest.mark.parametrize("text, names", [
    ("softmax(logits)", {"logits"}),
    ("sum(delta * h)", {"delta", "h"}),
    ("loss + lam * norm(w)", {"loss", "lam", "w"}),
    ("AXC", {"A", "X", "C"}),
    ("xᵀAx", {"x", "A"}),
])
def test_long_lowercase_words_are_names_on_paper(text, names):
    """Four or more lowercase letters make a name (logits, delta); shorter or mixed-case words
    are products of one-letter symbols (AXC, Ax)."""
    assert set(read(text).symbols) == names


def test_long_product_reads_in_linear_time():
    """A @ A @ … @ x with thousands of factors is one n-ary product (it once took quadratic time)."""
    r = read(" @ ".join(["A"] * 3000) + " @ x")
    assert r.expr.shape == r.symbols["x"].shape
    assert len(r.expr.args) == 3001


# -- the table runner, and lark's runtime where a lark release has changed what the runner reads --

RUNTIME_TEXTS = ["x.T @ A @ x", "‖Wx − y‖²_F + tr(X⁻¹)", "½xᵀAx - 1/2 * sum(relu(z > 0))",
                 "x +", "x + )", "x $ y", "f(x,", "‖x", "A @ @ B", "-" * 150 + "x"]


def _outcome(text):
    """The syntax tree of `text` as plain data, or the ParseError it raises as plain data."""
    from matdiff import syntax

    def outline(node):
        if not isinstance(node, syntax.Node):
            return str(node)
        value = [v[0] if isinstance(v, tuple) else v for v in node.value] if isinstance(node.value, list) else node.value
        return node.kind, node.span, value, [outline(k) for k in node.kids]
    try:
        return "tree", outline(syntax.syntax_tree(text))
    except matdiff.ParseError as e:
        return "error", type(e), e.message, e.span, e.hint, str(e)


def test_the_table_runner_is_used_with_the_installed_lark():
    """So that the property test (tests/test_properties.py) compares the runner with lark, and the
    probe text it reads at set-up is valid."""
    from matdiff import syntax
    assert isinstance(syntax._parser(), syntax._Machine)


def _without_lexer_conf(monkeypatch):
    import lark

    class Renamed(lark.Lark):     # a release that calls it something else
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.lexer_config = self.__dict__.pop("lexer_conf")
    monkeypatch.setattr(lark, "Lark", Renamed)


def _without_action_name(monkeypatch):
    from lark.parsers import lalr_analysis
    monkeypatch.delattr(lalr_analysis.Shift, "name")   # lark's runtime tests `is Shift`


@pytest.mark.parametrize("simulate", [_without_lexer_conf, _without_action_name])
def test_a_lark_whose_internals_changed_parses_with_its_own_runtime(simulate, monkeypatch):
    """Same trees, and the same ParseErrors (message, caret, hint), from lark's runtime."""
    from matdiff import syntax
    expected = [_outcome(t) for t in RUNTIME_TEXTS]
    simulate(monkeypatch)
    syntax._parser.cache_clear()
    try:
        assert isinstance(syntax._parser(), syntax._LarkRuntime)
        assert [_outcome(t) for t in RUNTIME_TEXTS] == expected
        assert parse("x.T @ A @ x") == parse("xᵀAx")
        with pytest.raises(matdiff.ParseError):
            parse("x + ")
    finally:
        monkeypatch.undo()
        syntax._parser.cache_clear()
    assert isinstance(syntax._parser(), syntax._Machine)
