"""Printers: `text` is NumPy-syntax source that parses back to an equal Expr; `unicode` is the
paper form (xᵀAx, σ(Wx + b), X⁻ᵀ); `latex` is LaTeX. Each op declares its own three printers;
this module owns leaves, precedence and parentheses."""

from __future__ import annotations

import math
import re

from ..expr import SPELLINGS, Call, Const, Expr, Symbol, stack_room

GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
         "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
         "ξ": "xi", "π": "pi", "ρ": "rho", "ς": "varsigma", "τ": "tau", "υ": "upsilon",
         "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
         "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega"}


def format_number(v) -> str:
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


# inf and nan must not print as names (inf reads back as i·n·f): each style shows them in a form
# the reader refuses with an error rather than misreads
NON_FINITE = {"text": ("np.inf", "np.nan"), "unicode": ("∞", "0/0"), "latex": (r"\infty", r"\mathrm{NaN}")}


class Printer:
    def __init__(self, style: str):
        self.style = style

    def __call__(self, e: Expr) -> str:
        if isinstance(e, Symbol):
            return self.symbol(e.name)
        if isinstance(e, Const):
            return self.number(e.value)
        return getattr(e.op, self.style)(self, e)

    def number(self, v) -> str:
        if isinstance(v, float) and not math.isfinite(v):
            inf, nan = NON_FINITE[self.style]
            s = nan if math.isnan(v) else inf if v > 0 else "-" + inf
        elif isinstance(v, int) and abs(v) >= 10**19 and self.style != "text" and abs(v) < 1e308:
            s = repr(float(v))   # read back as a float anyway (20 digits and more); the rest is noise
        else:
            s = format_number(v)
        if self.style == "unicode" and s.startswith("-"):
            s = "−" + s[1:]   # the sign only: an exponent keeps its ASCII '-' (1e-08), as NUMBER reads it
        return s

    def symbol(self, name: str) -> str:
        if self.style != "latex":
            return name
        if name in GREEK:
            return "\\" + GREEK[name]
        m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
        if m:
            return f"{self.symbol(m.group(1))}_{{{m.group(2)}}}"
        if len(name) > 1:
            return rf"\mathit{{{name}}}"
        return name

    def prec(self, e: Expr) -> int:
        if isinstance(e, Const):
            if isinstance(e.value, float) and math.isnan(e.value):
                return 2                     # 0/0 on paper
            return 3 if e.value < 0 else 8   # below postfix: (2).T, since 2.T reads as 2. T
        if isinstance(e, Call):
            if self.style != "text" and "paper_prec" in e.op.extra:   # infix on paper (A ⊗ B), a call in text
                prec = e.op.extra["paper_prec"]
                return prec(self, e) if callable(prec) else prec
            return e.op.prec
        return 9

    def runs_on(self, left: str, right: str) -> bool:
        """Whether `right` written straight after `left` would not read back as two factors: a
        number running into an exponent (1e-08 a, 2 e), two names merging into one word the
        reader keeps whole or takes for a function (lam x, t r, a b c d, a σ(x)), a name before
        "(" that becomes a call (I (A), a b(x + y), A (B + C)ᵀ), or a word before a second postfix
        or a subscript, which would apply to the whole word (A xᵀᵀ, A x[2])."""
        if self.style != "unicode" or not left or not right:
            return False
        if left.endswith("‖_F"):
            return True                 # ‖X‖_F a, not ‖X‖_Fa
        if re.search(r"\d[eE][-+]?\d+$", left) or left[-1] in "0123456789." and right[0] in "eE0123456789.𝟙":
            return True
        tail = _TAIL.search(left)
        if tail is None:
            return False
        tail = tail.group()
        if right[0] in "0123456789" or _TWO_POSTFIXES.match(right):
            return True
        head = _HEAD.match(right)
        if right[0] == "(":
            return not (_product_call(tail) and closed_group(right))
        if head is None:
            return False
        word = tail + head.group()
        if right[head.end():head.end() + 1] == "[":
            return True                 # A x[2], not Ax[2]: the subscript would index the whole word
        if right[head.end():head.end() + 1] == "(":
            return head.group() in SPELLINGS or not _product_call(word)
        return not _splits(word)

    def arg(self, e: Expr, prec: int) -> str:
        s = self(e)
        if self.prec(e) < prec:
            return r"\left(" + s + r"\right)" if self.style == "latex" else f"({s})"
        return s


# the ends of printed factors, as the lexer sees them (grammars/matdiff.lark: NAME, SUPERSCRIPT)
_NAME = r"[A-Za-zα-ωΑ-Ω][A-Za-z0-9_α-ωΑ-Ω]*"
_TAIL, _HEAD = re.compile(_NAME + "$"), re.compile(_NAME)
_TWO_POSTFIXES = re.compile(_NAME + r"(?:ᵀ|'|⁻ᵀ|⊙?⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+){2}")


def _splits(word: str) -> bool:
    """Whether the reader splits `word` into its one-letter symbols (AXC = A X C): not when it
    is a function (tr, ln), a spelled-out Greek letter (mu, eta) or a long lowercase name (abcd)."""
    from ..reader import GREEK_NAMES, _is_word   # the reader's own rules; imported late (it imports the ops)
    parts = re.findall(r"[^\d]\d*", word)
    return (word not in SPELLINGS and word.lower() not in GREEK_NAMES and "_" not in word
            and not _is_word(word) and all(p[0] not in SPELLINGS or p[0] == "I" for p in parts))


def _product_call(word: str) -> bool:
    """Whether `word(…)` reads as the product of `word` and the bracket, not as a call."""
    if len(word) == 1:
        return word not in SPELLINGS
    return not word.islower() and word.lower() not in SPELLINGS and _splits(word)


def closed_group(s: str) -> bool:
    """Whether s is one bracketed group: (…), with nothing after its closing bracket."""
    if not s.startswith("("):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            return i == len(s) - 1
    return False


_TEXT, _UNICODE, _LATEX = Printer("text"), Printer("unicode"), Printer("latex")


PRINT_FRAMES = 10   # the most Python frames a printer spends on one level of nesting


def _printed(printer: "Printer", e: Expr) -> str:
    with stack_room(e.depth(), PRINT_FRAMES):   # the printers recurse along the expression
        return printer(e)


def to_text(e: Expr) -> str:
    return _printed(_TEXT, e)


def to_unicode(e: Expr) -> str:
    return _printed(_UNICODE, e)


def to_latex(e: Expr) -> str:
    return _printed(_LATEX, e)
