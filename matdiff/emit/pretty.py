"""Printers: `text` is NumPy-syntax source that parses back to an equal Expr; `unicode` is the
paper form (xᵀAx, σ(Wx + b), X⁻ᵀ); `latex` is LaTeX. Each op declares its own three printers;
this module owns leaves, precedence and parentheses."""

from __future__ import annotations

import re

from ..expr import Call, Const, Expr, Symbol

GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
         "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
         "ξ": "xi", "π": "pi", "ρ": "rho", "ς": "varsigma", "τ": "tau", "υ": "upsilon",
         "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega", "Γ": "Gamma", "Δ": "Delta",
         "Θ": "Theta", "Λ": "Lambda", "Ξ": "Xi", "Π": "Pi", "Φ": "Phi", "Ψ": "Psi", "Ω": "Omega"}


def format_number(v) -> str:
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


class Printer:
    def __init__(self, style: str):
        self.style = style

    def __call__(self, e: Expr) -> str:
        if isinstance(e, Symbol):
            return self.symbol(e.name)
        if isinstance(e, Const):
            s = format_number(e.value)
            if self.style != "text":
                s = s.replace("-", "−" if self.style == "unicode" else "-")
            return s
        return getattr(e.op, self.style)(self, e)

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
            return 3 if e.value < 0 else 8   # below postfix: (2).T, since 2.T reads as 2. T
        if isinstance(e, Call):
            if self.style != "text" and "paper_prec" in e.op.extra:   # infix on paper (A ⊗ B), a call in text
                return e.op.extra["paper_prec"]
            return e.op.prec
        return 9

    def arg(self, e: Expr, prec: int) -> str:
        s = self(e)
        if self.prec(e) < prec:
            return r"\left(" + s + r"\right)" if self.style == "latex" else f"({s})"
        return s


_TEXT, _UNICODE, _LATEX = Printer("text"), Printer("unicode"), Printer("latex")


def to_text(e: Expr) -> str:
    return _TEXT(e)


def to_unicode(e: Expr) -> str:
    return _UNICODE(e)


def to_latex(e: Expr) -> str:
    return _LATEX(e)
