"""Checking hand-written gradients. `check_gradient` compares a claimed ∇f with the derived one
and names the mistake: correct, transposed, scaled (factor c), sign, shape, or wrong.
`check_program` reads a forward and backward pass written as NumPy assignments, infers the
shape of every line, and checks each `dNAME = …` line as a claim about ∂loss/∂NAME.

Verdicts are numeric: the claim as read and the derived gradient are evaluated by the plain
evaluator (matdiff/evaluate.py) at several random points from each symbol's domain, and the
derived gradient is itself verified against finite differences of f as read before it judges
anything, so a simplifier or emitter bug cannot turn into a verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .derivation import derive, project
from .errors import DerivationError, MatdiffError, ParseError, ShapeError
from .expr import Const, Expr, Symbol, substitute
from .simplify import simplify, zero_like
from .reader import read
from .shapes import parse_shape

DRAWS = 3
RTOL = 1e-6


@dataclass
class GradientCheck:
    """The verdict on one claimed gradient."""

    ok: bool
    verdict: str                    # correct | transposed | scaled | sign | shape | wrong
    expected: Expr                  # the correct gradient
    claim: Expr | None              # the claim as read (None when it could not be read)
    variable: Symbol
    factor: float | None = None     # claim = factor · truth for "scaled" and "sign"
    message: str = ""
    counterexample: dict = field(default_factory=dict)
    expected_text: str = ""         # the correct gradient in the caller's own names

    def explain(self) -> str:
        v = self.variable
        lines = [f"verdict: {self.verdict}" + (f" (factor {self.factor:g})" if self.factor is not None
                                              and self.verdict in ("scaled", "sign") else "")]
        if self.message:
            lines.append(self.message)
        if self.claim is not None:
            lines.append(f"your gradient:    {self.claim}    ({self.claim.shape})")
        lines.append(f"correct gradient: {self.expected_text or self.expected}    ({self.expected.shape}, "
                     f"the shape of {v.name})")
        lines.append(f"                  {self.expected.to_unicode()}")
        if self.counterexample:
            c = self.counterexample
            lines.append(f"counterexample (sizes {c['sizes']}, seed {c['seed']}): at entry {c['index']} "
                         f"yours is {c['claimed']:.6g}, the derivative is {c['expected']:.6g}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


def _values(exprs: list[Expr], symbols: dict, expr_for_domains: Expr, seed: int) -> list:
    """Each of `exprs` evaluated by the plain evaluator at DRAWS points sampled from the symbols'
    domains: per point, the values (runtime form) and the size of their intermediate values."""
    import numpy as np
    from .evaluate import magnitude, runtime_form, evaluate_all
    from .verify import Sampler, find_point

    sampler = Sampler(symbols, expr_for_domains, seed)
    out = []
    for _ in range(DRAWS):
        x = find_point(expr_for_domains, symbols, sampler)
        vals = evaluate_all(exprs, x, sampler.sizes)
        scale = max(magnitude(e, x, sampler.sizes) for e in exprs)
        out.append(([np.asarray(runtime_form(v, e), dtype=float) for v, e in zip(vals, exprs, strict=True)], scale))
    return out, sampler


def compare(claim: Expr, expected: Expr, variable: Symbol, symbols: dict, f: Expr, seed: int = 0):
    """(verdict, factor, counterexample) for a claim of the variable's shape or its transpose."""
    import numpy as np
    from .verify import EPS

    square = variable.shape.rows == variable.shape.cols
    shaped_like = claim.shape == expected.shape
    draws, sampler = _values([claim, expected], symbols, f, seed)
    # relative to the derivative's own size, down to the rounding of the values' intermediates
    # (no absolute floor: 1e-7·x is not 0)
    floor = 64 * EPS * max(scale for _, scale in draws)

    def close(a, b):
        return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=RTOL * float(np.max(np.abs(b), initial=0.0)) + floor)

    pairs = [(np.asarray(c), np.asarray(e)) for (c, e), _ in draws]
    if shaped_like and all(close(c, e) for c, e in pairs):
        return "correct", None, {}
    if (not shaped_like or square) and claim.shape == expected.shape.T and not expected.shape.is_scalar:
        if all(close(c.T if c.ndim == 2 else c, e) for c, e in pairs):
            return "transposed", None, {}   # also a row where the gradient is a column: xᵀ(A + Aᵀ)
    if shaped_like:
        ratios = []
        for c, e in pairs:
            denom = float(np.sum(e * e))
            ratios.append(float(np.sum(c * e)) / denom if denom > 0 else np.nan)
        k = ratios[0]
        if np.isfinite(k) and abs(k) > 1e-12 and all(np.isclose(r, k, rtol=1e-6) for r in ratios) and all(
                close(c, k * e) for c, e in pairs):
            k = round(k, 10)
            return ("sign" if np.isclose(k, -1.0) else "scaled"), k, {}
    if not shaped_like and claim.shape != expected.shape.T:
        return "shape", None, {}
    c, e = pairs[0]
    if not shaped_like:
        c = c.T   # compare entry by entry in the variable's layout
    idx = np.unravel_index(int(np.argmax(np.abs(c - e))), e.shape) if e.ndim else ()
    return "wrong", None, {"index": tuple(int(i) for i in idx), "claimed": float(c[idx]) if c.ndim else float(c),
                           "expected": float(e[idx]) if e.ndim else float(e), "sizes": sampler.sizes,
                           "seed": seed}


def check_gradient(expr, wrt: str, claim: str, shapes: dict | None = None, assume: dict | None = None,
                   seed: int = 0) -> GradientCheck:
    """Is `claim` the gradient of `expr` with respect to `wrt`? See the module docstring."""
    d = derive(expr, wrt, shapes, assume)
    if len(d.wrt) != 1:
        raise MatdiffError("check_gradient takes one variable", hint="check each variable's gradient on its own")
    var = d.variables[d.wrt[0]]
    expected = _verified_gradient(d, var.name, seed)
    known = {n: s.shape for n, s in d.symbols.items()}
    props = {n: sorted(s.props) for n, s in d.symbols.items() if s.props}
    try:
        claimed = read(claim, known, props, style="numpy").expr
    except ShapeError as e:
        return GradientCheck(False, "shape", expected, None, var,
                             message=f"your gradient does not fit together: {e.render()}")
    extra = set(claimed.symbols()) - set(d.symbols)
    if extra:
        raise ParseError(f"the claim uses {', '.join(sorted(extra))}, which {'is' if len(extra) == 1 else 'are'} "
                         f"not in {d.expr}", text=claim, span=(0, len(claim)),
                         hint="write the gradient in terms of the expression's symbols: " + ", ".join(d.symbols))
    return _judge(claimed, expected, var, dict(d.symbols), d.expr, seed)


def _verified_gradient(d, name: str, seed: int) -> Expr:
    """The derived gradient, once it has passed verification against f as read: a gradient
    that judges a claim must not be trusted on its own word."""
    report = d.verify(seed=seed)
    if not report.ok:
        raise DerivationError(f"matdiff's own gradient of {d.expr} with respect to {name} fails verification "
                              f"against the expression as read, so it cannot judge a claim:\n{report}",
                              hint="please report this expression; the claim has not been judged")
    return d.gradients[name]


def _judge(claimed, expected, var, symbols, f, seed, expected_text="") -> GradientCheck:
    verdict, factor, cex = compare(claimed, expected, var, symbols, f, seed)
    if verdict != "correct" and var.props & {"symmetric", "spd", "diagonal"} and claimed.shape == var.shape:
        # on symmetric (diagonal) matrices only the projection of a gradient matters: Aᵀ and
        # sym(A) give the same ⟨G, V⟩ for every symmetric V
        if compare(project(claimed, var), expected, var, symbols, f, seed)[0] == "correct":
            kind = "diagonal" if "diagonal" in var.props else "symmetric"
            return GradientCheck(True, "correct", expected, claimed, var, None,
                                 f"correct on {kind} matrices: it equals the derivative once projected "
                                 f"({'G ⊙ I' if kind == 'diagonal' else 'sym(G) = (G + Gᵀ)/2'})",
                                 {}, expected_text)
    message = {
        "correct": "",
        "transposed": f"your gradient is the transpose of the right one: it is {claimed.shape}, "
                      f"but {var.name} is {var.shape}" if claimed.shape != var.shape else
                      "your gradient is the transpose of the right one",
        "sign": "your gradient has the wrong sign",
        "scaled": f"your gradient is {factor:g} times the right one" if factor is not None else "",
        "shape": f"your gradient is {claimed.shape} but {var.name} is {var.shape}",
        "wrong": "your gradient differs from the derivative (not by a transpose, a sign or a factor)"
                 + (f"; it is also {claimed.shape} where {var.name} is {var.shape}" if claimed.shape != var.shape else ""),
    }[verdict]
    return GradientCheck(verdict == "correct", verdict, expected, claimed, var, factor, message, cex,
                         expected_text)


# -- programs ---------------------------------------------------------------------------------------

_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\s+[A-Za-z_][A-Za-z0-9_]*)?)\s*([-+*/@]?)=(?!=)\s*(.*)$")
_IMPORT = re.compile(r"^\s*(?:import\s+\w|from\s+[\w.]+\s+import\s)")
_CLAIM = re.compile(r"^(?:grad_|grad\s+|dL_d|dloss_d|d_|d)([A-Za-z_][A-Za-z0-9_]*)$")


@dataclass
class Line:
    number: int
    name: str
    text: str
    expr: Expr | None = None
    shape: object = None
    claim_of: str | None = None        # NAME for a dNAME line
    error: MatdiffError | None = None  # a claim that could not be read
    check: GradientCheck | None = None
    key: str = ""                      # the name inside the checker (h_1 for an h assigned again)
    partial: bool = False              # a gradient line that a later line of the same name adds to
    augmented: str = ""                # "+" for dW += …

    def __post_init__(self):
        self.key = self.key or self.name

    def __str__(self) -> str:
        head = f"line {self.number}: {self.name} {self.augmented}= {self.text}    [{'does not fit' if self.error else self.shape}]"
        if self.partial:
            return head + f"    (partial: checked through the last {self.name} line)"
        if self.check is None:
            return head
        if self.check.ok:
            return head + "    ✓ correct" + (f" ({self.check.message})" if self.check.message else "")
        return head + f"\n    ✗ {self.check.verdict}: {self.check.message}\n    the correct {self.name} is " \
                      f"{self.check.expected_text}"


@dataclass
class ProgramCheck:
    lines: list
    loss: str

    @property
    def ok(self) -> bool:
        return all(ln.check is None or ln.check.ok for ln in self.lines)

    @property
    def claims(self) -> dict:
        return {ln.name: ln.check for ln in self.lines if ln.check is not None}

    def explain(self) -> str:
        return "\n".join(str(ln) for ln in self.lines)

    __str__ = explain


def check_program(text: str, loss: str = "loss", shapes: dict | None = None, assume: dict | None = None,
                  seed: int = 0) -> ProgramCheck:
    """Read assignments `NAME = expr` (NumPy syntax, one per line, `#` comments), infer every
    line's shape, and check each `dNAME` / `grad_NAME` line against ∂loss/∂NAME."""
    known = {n: parse_shape(s, n) for n, s in (shapes or {}).items()}
    defs: dict[str, Expr] = {}          # forward definitions, as read (in the program's names)
    symbols: dict[str, Symbol] = {}
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), 1):
        body = raw.split("#", 1)[0].rstrip()
        if not body.strip() or _IMPORT.match(body):
            continue
        m = _ASSIGN.match(body)
        if not m:
            raise ParseError(f"line {number}: expected an assignment NAME = expression", text=raw,
                             span=(0, len(body)), hint="one assignment per line, e.g. z1 = W1 @ x + b1")
        target, augmented, rhs = m.group(1), m.group(2), m.group(3)
        target = re.sub(r"^grad\s+", "grad_", target)
        if " " in target:
            raise ParseError(f"line {number}: cannot assign to {target!r}", text=raw, span=(0, len(target)))
        start = body.index(rhs, m.start(3)) if rhs else len(body)
        claim = _CLAIM.match(target)
        claim_of = claim.group(1) if claim and (claim.group(1) in defs or claim.group(1) in symbols) else None
        shift, written = start, rhs.strip()
        if augmented:   # dW += …  is  dW = dW + (…)
            if target not in known:
                raise ParseError(f"line {number}: {target} {augmented}= before {target} has a value", text=raw,
                                 span=(0, len(body)), hint=f"{target} = … first")
            rhs = f"{target} {augmented} ({rhs})"
            shift = start - len(target) - 4
        try:
            reading = read(rhs, {**known}, assume, style="numpy")
        except MatdiffError as e:
            span = (max(start, e.span[0] + shift), max(start, e.span[1] + shift)) if e.span else (start, len(body))
            located = type(e)(f"line {number}: {e.message}", text=raw, span=span, hint=e.hint)
            if claim_of is None or not isinstance(e, ShapeError):
                raise located from None
            # a claim whose shapes do not fit: reported on its line; later lines go on with its
            # correct value, which has the shape of claim_of
            if any(ln.key == target and ln.claim_of for ln in lines):
                _rename_earlier(target, Const(0), {}, lines, known, partial=True)
            lines.append(Line(number, target, written, None, known[claim_of], claim_of, error=located,
                              augmented=augmented))
            known[target] = known[claim_of]
            continue
        for n, s in reading.symbols.items():
            symbols.setdefault(n, s)
            known.setdefault(n, s.shape)
        e = reading.expr
        if claim_of is None and target in defs:
            e = _rename_earlier(target, e, defs, lines, known)   # h = relu(h): the old h is h_1
        if claim_of is not None and any(ln.key == target and ln.claim_of for ln in lines):
            # dW = …; dW = dW + …: the earlier line is a partial sum, judged only as part of the last
            e = _rename_earlier(target, e, {}, lines, known, partial=True)
        lines.append(Line(number, target, written, e, e.shape, claim_of, augmented=augmented))
        known[target] = e.shape
        if claim_of is None:
            defs[target] = e
    if loss not in defs:
        raise MatdiffError(f"the program defines no {loss!r}", hint="name the loss line `loss = …` or pass --loss NAME")
    if not defs[loss].shape.is_scalar:
        raise ShapeError(f"{loss} is {defs[loss].shape}, not a scalar", hint="sum the loss: loss = sum(…)")

    assigned = {ln.key: ln.number for ln in lines}
    for ln in lines:
        for n in (ln.expr.symbols() if ln.expr is not None else ()):
            if assigned.get(n, 0) > ln.number:
                raise ParseError(f"line {ln.number}: {n} is used before it is assigned (line {assigned[n]})",
                                 text=f"{ln.name} {ln.augmented}= {ln.text}", span=(0, len(ln.name)),
                                 hint=f"move line {assigned[n]} above line {ln.number}")
    inputs = {n: s for n, s in symbols.items() if n not in defs and n not in assigned}
    order = [ln.key for ln in lines if ln.claim_of is None]
    correct: dict[str, Expr] = {}        # dNAME -> the correct gradient, fully expanded
    named_claims: list = []              # (dNAME, the correct gradient in the program's names)
    partials: dict[str, Expr] = {}       # dW_1 -> its right-hand side, for dW = dW_1 + …
    checked: dict[str, GradientCheck] = {}
    for ln in lines:
        if ln.claim_of is None:
            continue
        if ln.partial:
            if ln.expr is None:
                raise ln.error
            partials[ln.key] = ln.expr
            continue
        name = ln.claim_of
        var = Symbol(name, known[name])
        loss_expr = _expand(defs, order, loss, keep=name)
        if name == loss:
            expected = Const(1)                      # ∂loss/∂loss
        elif name not in loss_expr.symbols():
            expected = zero_like(var)                # the loss does not depend on it
        else:
            d = derive(loss_expr, [name], shapes={n: s.shape for n, s in loss_expr.symbols().items()})
            expected = _verified_gradient(d, name, seed)
        leaf_value = _expand(defs, order, name) if name in defs else var
        expected_full = substitute(expected, {var: leaf_value}) if name in defs else expected
        correct[ln.name] = expected_full
        folded = _fold(expected, [(n, defs[n]) for n in order if n != name] + named_claims)
        named_claims.append((ln.name, folded))
        text = str(folded)
        if ln.error is not None:
            ln.check = GradientCheck(False, "shape", expected_full, None, var,
                                     message=f"the line does not fit together: {ln.error.render()}",
                                     expected_text=text)
            continue
        claim = ln.expr
        for _ in range(len(partials)):
            claim = substitute(claim, {Symbol(k, v.shape): v for k, v in partials.items()})
        claim_full = substitute(_expand(defs, order, None, expr=claim), {
            Symbol(c, correct[c].shape): correct[c] for c in correct if c != ln.name})
        f_all = _expand(defs, order, loss)
        syms = {n: s for n, s in inputs.items() if n in (claim_full.symbols() | expected_full.symbols()
                                                          | f_all.symbols())}
        # judged on the values of the claim and the gradient as they stand; simplified only to be shown
        ln.check = _judge(claim_full, expected_full, var, syms, f_all, seed, expected_text=text)
        ln.check.claim, ln.check.expected = simplify(claim_full), simplify(expected_full)
        wrong_before = sorted(n for n in ln.expr.symbols() if n in checked and not checked[n].ok)
        if wrong_before:
            ln.check.message = (ln.check.message + "; " if ln.check.message else "") + \
                f"judged with the correct {', '.join(wrong_before)} (as written, {', '.join(wrong_before)} is wrong)"
        checked[ln.name] = ln.check
    return ProgramCheck(lines, loss)


def _rename_earlier(target: str, new: Expr, defs: dict, lines: list, known: dict,
                    partial: bool = False) -> Expr:
    """`target` is assigned again: its earlier value becomes target_k everywhere it was used
    (the new right-hand side included), so every name has one value. An earlier gradient line
    becomes a partial sum (`partial`), checked only through the last one."""
    k = 1
    while f"{target}_{k}" in known:
        k += 1
    old_name = f"{target}_{k}"
    old, renamed = Symbol(target, known[target]), Symbol(f"{target}_{k}", known[target])
    if target in defs:
        defs[old_name] = defs.pop(target)
    for n in list(defs):
        defs[n] = substitute(defs[n], {old: renamed})
    for ln in lines:
        if ln.key == target:
            ln.key = old_name
            ln.partial = ln.partial or partial
        if ln.expr is not None:
            ln.expr = substitute(ln.expr, {old: renamed})
    known[old_name] = known[target]
    return substitute(new, {old: renamed})


def _expand(defs: dict, order: list, name: str | None, keep: str | None = None, expr: Expr | None = None) -> Expr:
    """A name's (or an expression's) value in terms of the program's inputs, every defined name
    substituted by its definition, except `keep`, which stays a leaf."""
    e = defs[name] if expr is None else expr
    for n in reversed(order):
        if n == keep or n not in defs:
            continue
        sym = next((s for s in e.symbols().values() if s.name == n), None)
        if sym is not None:
            e = substitute(e, {sym: defs[n]})
    return e


def _fold(expected: Expr, names: list) -> Expr:
    """Write a gradient in the program's own names: for each (name, value) in order, where value
    is written in the names before it, occurrences of value (also as part of a sum or an
    entrywise product: W2 @ h1 + b2 − y holds z2) become the name."""
    out = expected
    for name, value in names:
        out = _replace(out, simplify(value), Symbol(name, value.shape))
    return out


def _is_op(e: Expr, name: str) -> bool:
    return getattr(getattr(e, "op", None), "name", None) == name


def _replace(e: Expr, target: Expr, by: Expr) -> Expr:
    from .expr import Call, call, transform

    def swap(node):
        if node == target:
            return by
        if isinstance(node, Call) and isinstance(target, Call) and node.op is target.op \
                and node.op.name in ("add", "mul") and len(target.args) < len(node.args):
            rest = list(node.args)
            if all(t in rest and not rest.remove(t) for t in target.args):
                return call(node.op, by, *rest)
        if _is_op(node, "matmul") and _is_op(target, "matmul") and len(target.args) < len(node.args):
            f, t = node.args, target.args          # W x xᵀ holds z = W x: a run of the product
            for i in range(len(f) - len(t) + 1):
                if f[i:i + len(t)] == t:
                    return call("matmul", *f[:i], by, *f[i + len(t):])
        if _is_op(node, "mul") and _is_op(target, "mul"):
            # 2 (z2 − y) h1ᵀ holds dz2 = 2 (z2 − y): the scalars were pulled out of the product
            *tscalars, core = target.args
            for i, product in enumerate(node.args):
                if not _is_op(product, "matmul") or core not in (product.args[0], product.args[-1]):
                    continue
                rest = list(node.args[:i] + node.args[i + 1:])
                if not all(t in rest and not rest.remove(t) for t in tscalars):
                    continue
                f = product.args
                folded = call("matmul", by, *f[1:]) if f[0] == core else call("matmul", *f[:-1], by)
                return call("mul", *rest[:i], folded, *rest[i:])
        return node

    return swap(e) if not isinstance(e, Call) else transform(e, lambda leaf: None, swap)
