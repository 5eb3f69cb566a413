"""Checking a backward pass. `check_program` reads a forward and backward pass written as NumPy
assignments, infers the shape of every line, and judges each `dNAME = …` line as a claim about
∂loss/∂NAME.

The correct gradients come from one reverse sweep over the program, as backprop computes them:
a line NAME = e(a, b, …) passes its cotangent c = ∂loss/∂NAME on as the gradients of ⟨c, e⟩
with respect to a, b, …, derived by matdiff, and c is named as the program names it (dz1), so
the correct dW1 reads dz1 @ x.T. The cost is linear in the program's length. Each line's
derivative is checked against central differences of the line as read before it judges
anything; claims are judged on values: the plain evaluator runs the program line by line at
DRAWS points sampled from its inputs' domains, each claim with the correct values of the
gradients it uses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .check import DRAWS, GradientCheck, check_sizes, judge_values
from .derivation import derive
from .errors import DerivationError, DomainError, MatdiffError, ParseError, ShapeError
from .expr import Call, Const, Expr, Symbol, call, substitute
from .reader import _read_assumptions, declared_shapes, read
from .simplify import simplify, zero_like

# The stated limits of a program (module attributes: set them to change them); past either, a
# ParseError names the limit. A 1000-line program (a 250-layer MLP with its backward pass, 30 kB)
# is checked in about 2 s. Each line is an expression within syntax.MAX_LENGTH and MAX_DEPTH.
MAX_PROGRAM_LINES = 5000          # assignments in one program
MAX_PROGRAM_LENGTH = 1_000_000    # characters in one program

_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\s+[A-Za-z_][A-Za-z0-9_]*)?)\s*([-+*/@]?)=(?!=)\s*(.*)$")
_IMPORT = re.compile(r"^\s*(?:import\s+\w|from\s+[\w.]+\s+import\s)")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"_\{([A-Za-z0-9]+)\}")   # W_{1} is W_1
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
    raw: str = ""                      # the line as written
    start: int = 0                     # where its right-hand side starts in `raw`
    after: bool = False                # no gradient line, but computed from one (W_new = W − η dW)

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
    if not isinstance(text, str):
        raise ParseError(f"expected the program as a str, got {type(text).__name__}")
    if not isinstance(loss, str) or not loss.isidentifier():
        raise ParseError(f"the loss must be named by an identifier, got {loss!r}"[:120], hint='loss="loss"')
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise MatdiffError(f"seed must be an int, got {type(seed).__name__}", hint="seed=0")
    if len(text) > MAX_PROGRAM_LENGTH:
        raise ParseError(f"the program is {len(text):,} characters long, more than matdiff reads "
                         f"(the limit matdiff.programs.MAX_PROGRAM_LENGTH = {MAX_PROGRAM_LENGTH:,})",
                         hint="check it in parts, or raise matdiff.programs.MAX_PROGRAM_LENGTH")
    known = dict(declared_shapes(shapes))
    _read_assumptions(assume)   # checked before any line is read
    lines, defs, symbols = _read_lines(text, known, assume)
    if loss not in defs:
        raise MatdiffError(f"the program defines no {loss!r}", hint="name the loss line `loss = …` or pass --loss NAME")
    if not defs[loss].shape.is_scalar:
        raise ShapeError(f"{loss} is {defs[loss].shape}, not a scalar", hint="sum the loss: loss = sum(…)")
    _check_names(lines, loss)
    assigned = {ln.key for ln in lines}
    inputs = {n: s for n, s in symbols.items() if n not in assigned}
    check_sizes(inputs.values())
    sweep = _Sweep(lines, defs, inputs, known, loss)
    sweep.judge(seed)
    return ProgramCheck(lines, loss)


# -- reading ----------------------------------------------------------------------------------------

def _read_lines(text: str, known: dict, assume) -> tuple[list, dict, dict]:
    """The program's lines read one by one: (lines, forward definitions by key, inputs as read).
    A name assigned again is renamed in what came before (h = relu(h): the old h is h_1)."""
    defs: dict[str, Expr] = {}          # forward definitions, as read (in the program's names)
    symbols: dict[str, Symbol] = {}     # every symbol read, as first read
    lines: list[Line] = []
    statements = 0
    dims_in_use = {d for shape in known.values() for d in shape if isinstance(d, str)}
    for number, raw in enumerate(text.splitlines(), 1):
        body = raw.split("#", 1)[0].rstrip()
        if not body.strip() or _IMPORT.match(body):
            continue
        statements += 1
        if statements > MAX_PROGRAM_LINES:
            raise ParseError(f"line {number}: the program has more than {MAX_PROGRAM_LINES} assignments "
                             f"(the limit matdiff.programs.MAX_PROGRAM_LINES)", text=raw, span=(0, len(body)),
                             hint="check it in parts, or raise matdiff.programs.MAX_PROGRAM_LINES")
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
        try:   # the shapes of the names the line uses: reading a line costs its length, not the program's
            words = set(_WORD.findall(_BRACED.sub(r"_\1", rhs)))
            reading = read(rhs, {n: known[n] for n in words if n in known}, assume, style="numpy",
                           taken_dims=dims_in_use)
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
                              augmented=augmented, raw=raw, start=start))
            known[target] = known[claim_of]
            continue
        for n, s in reading.symbols.items():
            symbols.setdefault(n, s)
            known.setdefault(n, s.shape)
            dims_in_use.update(d for d in s.shape if isinstance(d, str))
        e = reading.expr
        if claim_of is None and target in defs:
            e = _rename_earlier(target, e, defs, lines, known)   # h = relu(h): the old h is h_1
        elif claim_of is None and target in symbols:
            e = _rename_input(target, e, defs, lines, known, symbols)   # x = x / 2, x an input
        if claim_of is not None and any(ln.key == target and ln.claim_of for ln in lines):
            # dW = …; dW = dW + …: the earlier line is a partial sum, judged only as part of the last
            e = _rename_earlier(target, e, {}, lines, known, partial=True)
        lines.append(Line(number, target, written, e, e.shape, claim_of, augmented=augmented, raw=raw,
                          start=start))
        known[target] = e.shape
        if claim_of is None:
            defs[target] = e
    return lines, defs, symbols


def _rename_earlier(target: str, new: Expr, defs: dict, lines: list, known: dict,
                    partial: bool = False) -> Expr:
    """`target` is assigned again: its earlier value becomes target_k everywhere it was used
    (the new right-hand side included), so every name has one value. An earlier gradient line
    becomes a partial sum (`partial`), checked only through the last one."""
    old_name = _fresh(target, known)
    old, renamed = Symbol(target, known[target]), Symbol(old_name, known[target])
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


def _rename_input(target: str, new: Expr, defs: dict, lines: list, known: dict, symbols: dict) -> Expr:
    """An input is assigned (x = x / norm(x)): the input keeps its value as target_k, in the new
    right-hand side and in every line before; from here on `target` is the line's value."""
    old = symbols.pop(target)
    renamed = Symbol(_fresh(target, known), old.shape, old.props)
    symbols[renamed.name] = renamed
    for n in list(defs):
        defs[n] = substitute(defs[n], {old: renamed})
    for ln in lines:
        if ln.expr is not None:
            ln.expr = substitute(ln.expr, {old: renamed})
    known[renamed.name] = old.shape
    return substitute(new, {old: renamed})


def _fresh(target: str, known: dict) -> str:
    k = 1
    while f"{target}_{k}" in known:
        k += 1
    return f"{target}_{k}"


def _check_names(lines: list, loss: str) -> None:
    """Every name a line uses has a value there, as Python would need: an input of the forward
    pass, or a line above. A gradient line may use the forward pass and the gradient lines above
    it. A line that is no gradient line but uses one (W_new = W − η dW) is left out of the forward
    pass (`after`); the loss may not depend on it."""
    assigned = {ln.key: ln for ln in lines}
    inputs = {n for ln in lines if ln.claim_of is None for n in ln.expr.symbols()} - set(assigned)
    seen: set[str] = set()
    for ln in lines:
        for n in (ln.expr.symbols() if ln.expr is not None else ()):
            if n in inputs:
                continue
            if n not in seen:
                if n == ln.key:
                    raise _name_error(ln, n, f"{n} is used in its own first assignment, before it has a value",
                                      f"assign {n} before line {ln.number}, or check its spelling")
                if n in assigned:
                    raise _name_error(ln, n, f"{n} is used before it is assigned (line {assigned[n].number})",
                                      f"move line {assigned[n].number} above line {ln.number}")
                raise _name_error(ln, n, f"{n} has no value here: it is neither an input of the forward pass "
                                  "nor assigned above", f"assign {n} before line {ln.number}, or check its spelling")
            if ln.claim_of is None and (assigned[n].claim_of is not None or assigned[n].after):
                ln.after = True
            elif ln.claim_of is not None and assigned[n].after:
                raise _name_error(ln, n, f"the gradient line uses {n}, which is computed from gradient lines "
                                  f"(line {assigned[n].number})", "a gradient line uses the forward pass "
                                  "and the gradient lines above it")
        seen.add(ln.key)
    if assigned[loss].after:
        ln = assigned[loss]
        raise ParseError(f"line {ln.number}: the loss is computed from gradient lines", text=ln.raw,
                         span=(0, len(ln.raw)), hint="the loss must be computed before its gradients")


def _name_error(ln: Line, name: str, what: str, hint: str) -> ParseError:
    """A ParseError on line `ln` with the caret under the first use of `name` in its right-hand side."""
    raw = ln.raw or f"{ln.name} {ln.augmented}= {ln.text}"
    m = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)").search(raw, ln.start if ln.raw else 0)
    span = (m.start(), m.end()) if m else (0, len(ln.name))
    return ParseError(f"line {ln.number}: {what}", text=raw, span=span, hint=hint)


# -- the reverse sweep --------------------------------------------------------------------------------

class _Sweep:
    """The correct gradients of a program, by one reverse pass over its forward lines, and the
    verdicts on its gradient lines."""

    INLINE = 400   # the largest gradient (in tree nodes) written into another's text

    def __init__(self, lines, defs, inputs, known, loss):
        self.lines, self.defs, self.inputs, self.known, self.loss = lines, defs, inputs, known, loss
        self.forward = [ln for ln in lines if ln.claim_of is None and not ln.after]
        self.claims = [ln for ln in lines if ln.claim_of is not None and not ln.partial]
        self.partials = [ln for ln in lines if ln.partial and ln.expr is not None]
        # gradient lines that add to a partial line that does not fit together (dW = …; dW += …)
        self.unfit: dict[str, Line] = {}
        for ln in lines:
            if ln.claim_of is None:
                continue
            if ln.partial and ln.error is not None:
                self.unfit[ln.key] = ln
            elif ln.expr is not None:
                root = next((self.unfit[n] for n in ln.expr.symbols() if n in self.unfit), None)
                if root is not None:
                    self.unfit[ln.key] = root
        self.partials = [ln for ln in self.partials if ln.key not in self.unfit]
        first: dict[str, Line] = {}
        for ln in self.claims:
            first.setdefault(ln.claim_of, ln)
        # the cotangent ∂loss/∂NAME as a symbol: the first gradient line's name, else ∂NAME
        self.seeds = {n: Symbol(first[n].key if n in first else f"∂{n}", known[n]) for n in known
                      if n in defs or n in inputs}
        self.cts: dict[str, Expr] = {}      # NAME -> ∂loss/∂NAME in the program's names and seeds
        self.local: list = []               # (line, ⟨c, e⟩, its gradients) for the checks
        self._forms: dict[str, Expr] | None = None
        self._sweep()

    def _sweep(self) -> None:
        contributions: dict[str, list[Expr]] = {}
        for ln in reversed(self.forward):
            n = ln.key
            if n == self.loss:
                s = ln.expr                                      # ∂loss/∂loss = 1
                self.cts[n] = Const(1)
            else:
                parts = contributions.pop(n, None)
                if parts is None:
                    continue                                     # the loss does not depend on it
                self.cts[n] = simplify(parts[0] if len(parts) == 1 else call("add", *parts))
                s = _inner(self.seeds[n], ln.expr)
            names = [m for m in ln.expr.symbols() if m in self.defs or m in self.inputs]
            if not names:
                continue
            grads = derive(s, names).gradients
            self.local.append((ln, s, grads))
            fold = simplify(ln.expr) if isinstance(ln.expr, Call) else None
            for m, g in grads.items():
                if fold is not None:   # tanh'(z) = 1 − tanh(z)²: written with the line's name, 1 − h²
                    g = _replace(g, fold, Symbol(n, ln.expr.shape))
                contributions.setdefault(m, []).append(g)
        for n in self.inputs:
            parts = contributions.pop(n, None)
            if parts is not None:
                self.cts[n] = simplify(parts[0] if len(parts) == 1 else call("add", *parts))

    def expected(self, name: str) -> Expr:
        return self.cts[name] if name in self.cts else zero_like(Symbol(name, self.known[name]))

    def shown(self, name: str) -> str:
        """∂loss/∂name in the program's names: the cotangents no line names (∂h) written out
        where they are small enough."""
        if self._forms is None:
            self._forms, sizes = {}, {}
            # from the loss backwards: a cotangent is written with those of later names
            for n in [ln.key for ln in reversed(self.forward)] + list(self.inputs):
                if n not in self.cts:
                    continue
                e = self.cts[n]
                inline = {s: self._forms[s.name[1:]] for s in e.symbols().values()
                          if s.name.startswith("∂") and sizes.get(s.name[1:], self.INLINE + 1) <= self.INLINE}
                self._forms[n] = substitute(e, inline) if inline else e
                sizes[n] = _tree_size(self._forms[n], self.INLINE + 1)
        form = self._forms.get(name)
        return str(simplify(form) if form is not None else self.expected(name))

    # -- values ------------------------------------------------------------------------------------
    def judge(self, seed: int) -> None:
        import numpy as np
        if not self.claims:
            return
        draws, sizes = self._draws(seed)
        floor = 64 * 2.0 ** -52 * max(s for _, s in draws)   # the rounding of the program's values
        checked: dict[str, GradientCheck] = {}
        for ln in self.claims:
            name = ln.claim_of
            var = self.inputs[name] if name in self.inputs else Symbol(name, self.known[name])
            expected = self.expected(name)
            text = self.shown(name)
            if ln.error is not None or ln.key in self.unfit:
                what = "the line does not fit together" if ln.error is not None else \
                    f"line {self.unfit[ln.key].number}, which this line adds to, does not fit together"
                ln.check = GradientCheck(False, "shape", expected, None, var,
                                         message=f"{what}: {(ln.error or self.unfit[ln.key].error).render()}",
                                         expected_text=text)
                checked[ln.name] = ln.check
                continue
            pairs, failure = [], None
            for values, _ in draws:
                claimed, exp = values["claims"].get(ln.key), values["cts"].get(name)
                if exp is None:
                    exp = np.zeros(values["shapes"][name])
                if claimed is None:
                    failure = values["failures"].get(ln.key)
                pairs.append((claimed, exp))
            ln.check = judge_values(ln.expr, expected, var, pairs, sizes, seed, floor, text, failure)
            wrong_before = sorted(n for n in ln.expr.symbols() if n in checked and not checked[n].ok)
            if wrong_before:
                ln.check.message = (ln.check.message + "; " if ln.check.message else "") + \
                    f"judged with the correct {', '.join(wrong_before)} (as written, {', '.join(wrong_before)} is wrong)"
            checked[ln.name] = ln.check

    def _draws(self, seed: int):
        """DRAWS points: per point, the values of every line (forward, correct gradients, claims
        in their runtime form) and the largest magnitude among them; the first point also checks
        each line's derivative against differences."""
        from .verify import Sampler, SIZES
        claims_and_partials = [ln.expr for ln in self.claims + self.partials if ln.expr is not None]
        sampler = Sampler(self.inputs, _Walk([ln.expr for ln in self.forward]), seed)
        free = [n for n in SIZES if n not in sampler.sizes.values()] or list(SIZES)
        for node in _Walk(claims_and_partials).walk():   # sizes that only a gradient line names (eye(m))
            for d in getattr(node, "params", ()):
                for f in d.split("·") if isinstance(d, str) else ():
                    if not f.isdigit() and f not in sampler.sizes:
                        sampler.sizes[f] = free[len(sampler.sizes) % len(free)]
        out = []
        for k in range(DRAWS):
            values = self._point(sampler)
            if k == 0:
                self._check_local(values, sampler)
            out.append((self._values(values, sampler.sizes), values.pop("∂scale")))
        return out, sampler.sizes

    def _point(self, sampler) -> dict:
        """Inputs where every forward line is finite and inside its operations' domains, with the
        values of the lines (2-D arrays), as verify.find_point does for one expression."""
        import numpy as np
        from .evaluate import evaluate_all
        from .verify import _in_domain
        checks = [_line_checks(ln.expr, self.defs) for ln in self.forward]
        for attempt in range(30):
            if attempt == 10:
                sampler.shuffle_sizes()
            shrink = 0.5 ** (attempt % 10 - 4) if attempt % 10 >= 5 else 1.0
            values = dict(sampler.sample(positive_all=attempt >= 20, shrink=shrink))
            top = 0.0
            try:
                for ln, line_checks in zip(self.forward, checks, strict=True):
                    got = evaluate_all([ln.expr] + [a for _, a in line_checks], values, sampler.sizes)
                    if not np.all(np.isfinite(got[0])) or not all(
                            _in_domain(tag, v) for (tag, _), v in zip(line_checks, got[1:], strict=True)):
                        raise _OutOfDomain
                    values[ln.key] = got[0]
                    top = max(top, float(np.max(np.abs(got[0]), initial=0.0)))
            except (_OutOfDomain, ArithmeticError, ValueError):
                continue
            values["∂scale"] = top
            return values
        raise DomainError(f"could not find inputs where every line of the program is finite and inside its "
                          f"operations' domains (30 tries, seed {sampler.seed})",
                          hint="declare properties with assume (spd, positive)")

    def _values(self, values: dict, sizes: dict) -> dict:
        """The correct gradients at a point, then the gradient lines in order, each using the
        correct value of the gradient lines it names (transposed where it was written so)."""
        import numpy as np
        from .evaluate import evaluate_all, runtime_form
        scale = values["∂scale"]
        cts: dict[str, object] = {}
        for ln in reversed(self.forward):   # later names first: a cotangent uses theirs
            n = ln.key
            if n in self.cts:
                v = evaluate_all([self.cts[n]], values, sizes)[0]
                values[self.seeds[n].name] = cts[n] = v
        for n in self.inputs:
            if n in self.cts:
                cts[n] = evaluate_all([self.cts[n]], values, sizes)[0]
        for n in self.seeds:
            if n not in cts:
                values.setdefault(self.seeds[n].name, np.zeros(_dims(self.known[n], sizes)))
        claims, failures = {}, {}
        for ln in sorted(self.claims + self.partials, key=lambda x: x.number):
            own = None
            if ln.expr is not None and ln.key not in self.unfit:
                try:
                    own = evaluate_all([ln.expr], values, sizes)[0]
                except (MatdiffError, ArithmeticError, ValueError) as e:
                    failures[ln.key] = str(e).splitlines()[0][:200]
            correct = cts.get(ln.claim_of) if ln.claim_of else None
            if ln.partial:
                values[ln.key] = own if own is not None else np.zeros(_dims(self.known[ln.key], sizes))
                continue
            want = _dims(self.known[ln.claim_of], sizes)
            if correct is None:
                correct = np.zeros(want)
            if own is not None:
                claims[ln.key] = runtime_form(own, ln.expr)
            mine = own.shape if own is not None else _dims(self.known[ln.key], sizes)
            # later lines use this line's name: with its correct value, in the orientation written
            if ln.key not in values or ln.key == self.seeds[ln.claim_of].name:
                if tuple(mine) == tuple(correct.shape):
                    values[ln.key] = correct
                elif tuple(mine) == tuple(correct.shape[::-1]):
                    values[ln.key] = correct.T
                elif own is not None:
                    values[ln.key] = own
                else:
                    values[ln.key] = np.zeros(mine)
        shapes = {n: _runtime_dims(self.known[n], sizes) for n in self.known if n in self.seeds}
        scale = max([scale] + [float(np.max(np.abs(v), initial=0.0)) for v in cts.values()])
        values["∂scale"] = scale
        return {"cts": {n: runtime_form(v, self.expected(n)) for n, v in cts.items()},
                "claims": claims, "failures": failures, "shapes": shapes}

    def _check_local(self, values: dict, sampler) -> None:
        """Each line's ⟨c, e⟩ = Σ ⟨∂/∂a, V_a⟩ against its central differences along random V:
        matdiff's derivative of every line, before it judges anything."""
        import numpy as np
        from .evaluate import evaluate_all
        sizes = sampler.sizes
        bound = dict(values)
        for ln in reversed(self.forward):    # the seeds: correct cotangents at this point
            if ln.key in self.cts:
                bound[self.seeds[ln.key].name] = evaluate_all([self.cts[ln.key]], bound, sizes)[0]
        for ln, s, grads in self.local:
            moves = {}
            for m in grads:
                shape = _dims(self.known[m], sizes)
                v = sampler.rng.standard_normal(shape)
                props = self.inputs[m].props if m in self.inputs else frozenset()
                if "diagonal" in props:
                    v = np.diag(np.diag(v))
                elif props & {"symmetric", "spd"}:
                    v = (v + v.T) / 2
                moves[m] = v
            gs = evaluate_all(list(grads.values()), bound, sizes)
            a = sum(float(np.sum(g * moves[m])) for m, g in zip(grads, gs, strict=True))
            x0 = max([1.0] + [float(np.max(np.abs(bound[m]), initial=0.0)) for m in grads])
            if not _agrees(a, lambda h: _central(s, bound, moves, h * x0, sizes)):
                raise DerivationError(f"matdiff's own derivative of line {ln.number} ({ln.name} = {ln.text}) "
                                      "fails its check against finite differences of the line as read, so it "
                                      "cannot judge the gradient lines",
                                      hint="please report this program; its gradient lines have not been judged")


class _OutOfDomain(Exception):
    pass


class _Walk:
    """Several expressions walked as one (for the sampler's domains and sizes)."""

    def __init__(self, exprs):
        self.exprs = exprs

    def walk(self):
        for e in self.exprs:
            yield from e.walk()


def _line_checks(e: Expr, defs: dict) -> list:
    """(tag, argument) for each argument in `e` that must lie in a domain and is not an input
    sampled in it already: compound arguments, and names of earlier lines (log(h), h = W @ x)."""
    from .verify import _tags
    return [(tag, a) for node in e.walk() if isinstance(node, Call) for tag, a in _tags(node)
            if not (isinstance(a, Symbol) and a.name not in defs)]


def _inner(seed: Symbol, e: Expr) -> Expr:
    """⟨c, e⟩ as an expression: cᵀe for columns, c·e for scalars, sum(c ⊙ e) otherwise."""
    if e.shape.is_scalar:
        return seed * e
    if e.shape.cols == 1:
        return seed.T @ e
    return call("sum", seed * e)


def _dims(shape, sizes) -> tuple[int, int]:
    from .evaluate import Evaluation
    ev = Evaluation(sizes)
    return ev.size(shape.rows), ev.size(shape.cols)


def _runtime_dims(shape, sizes) -> tuple:
    rows, cols = _dims(shape, sizes)
    if shape.is_scalar:
        return ()
    return (rows,) if shape.is_vector or shape.is_row else (rows, cols)


def _tree_size(e: Expr, limit: int = 10 ** 6) -> int:
    """The number of nodes of `e` printed as a tree (shared nodes counted at each use), capped."""
    size: dict[int, int] = {}
    for node in e.walk():
        size[id(node)] = min(limit, 1 + sum(size[id(a)] for a in node.children))
    return size[id(e)]


STEPS = (1e-5, 1e-6, 1e-4, 1e-7)


def _central(s: Expr, bound: dict, moves: dict, h: float, sizes: dict):
    """(s(x + hV) − s(x − hV)) / 2h and its rounding floor, by the plain evaluator."""
    import numpy as np
    from .evaluate import evaluate_all, magnitude
    plus, minus = dict(bound), dict(bound)
    for m, v in moves.items():
        x = np.asarray(bound[m], dtype=float).reshape(v.shape)
        plus[m], minus[m] = x + h * v, x - h * v
    fp, fm = (float(evaluate_all([s], p, sizes)[0][0, 0]) for p in (plus, minus))
    scale = max(abs(fp), abs(fm), magnitude(s, plus, sizes))
    return (fp - fm) / (2 * h), 64 * 2.0 ** -52 * scale / (2 * h)


def _agrees(a: float, difference, tol: float = 1e-5) -> bool:
    """Whether `a` matches the central differences at one of several steps (or their Richardson
    extrapolation), beyond their rounding floor."""
    def error(n, floor):
        return max(0.0, abs(a - n) - floor) / max(abs(a), abs(n), 1e-12)
    if not (a == a and abs(a) != float("inf")):
        return False
    for h in STEPS:
        if error(*difference(h)) <= tol:
            return True
    for h in (1e-4, 1e-5):
        (n1, f1), (n2, f2) = difference(h), difference(h / 2)
        if error((4 * n2 - n1) / 3, (4 * f2 + f1) / 3) <= tol:
            return True
    return abs(a) < 1e-12 and abs(difference(1e-5)[0]) < 1e-8


# -- rewriting a gradient in a program's own names -------------------------------------------

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
