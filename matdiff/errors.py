"""The errors matdiff raises. Every one is a MatdiffError that can quote the input with a caret
line under the offending span, name the shapes involved and suggest a likely fix."""

from __future__ import annotations


class MatdiffError(Exception):
    """Base class: `message`, optional `text` + `span` (start, end offsets), optional `hint`."""

    kind = "error"

    def __init__(self, message: str, *, text: str | None = None,
                 span: tuple[int, int] | None = None, hint: str | None = None):
        self.message = message
        self.text = text
        self.span = span
        self.hint = hint
        super().__init__(self.render())

    @property
    def column(self) -> int | None:
        """0-based offset of the caret's first column within its line, or None."""
        if self.span is None or self.text is None:
            return None
        start = self.span[0]
        return start - (self.text.rfind("\n", 0, start) + 1)

    def render(self, ascii: bool = False) -> str:
        """The message, the input line with a caret line under the span, and the hint; with
        `ascii`, in ASCII only (for a terminal that cannot show Unicode), carets still aligned."""
        shown = to_ascii if ascii else str
        lines = [shown(self.message)]
        if self.text is not None and self.span is not None:
            lines += caret_lines(self.text, self.span, ascii)
        if self.hint:
            lines.append(f"hint: {shown(self.hint)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


WINDOW = 100   # columns of a long input line shown around the caret


def window(length: int, column: int) -> tuple[int, int]:
    """The columns [lo, hi) of a line of `length` characters quoted for a caret at `column`: the
    whole line up to WINDOW characters, else WINDOW of them with the caret a third of the way in."""
    if length <= WINDOW:
        return 0, length
    lo = max(0, min(column - WINDOW // 3, length - WINDOW))
    return lo, lo + WINDOW


def caret_lines(text: str, span: tuple[int, int], ascii: bool = False) -> list[str]:
    """The line of `text` holding span[0], and a caret line under the span (one caret at end of
    input). A line longer than WINDOW is cut to a window around the caret, marked "…" ("...")."""
    start, end = span
    start = max(0, min(start, len(text)))
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", start)
    if line_end < 0:
        line_end = len(text)
    lo, hi = window(line_end - line_start, start - line_start)
    lo, hi = lo + line_start, hi + line_start
    end = max(start + 1, min(end, line_end, hi))
    cells = [_cell(c, ascii) for c in text[lo:hi]]
    dots = "..." if ascii else "…"
    left, right = (dots if lo > line_start else ""), (dots if hi < line_end else "")
    pad = len(left) + sum(len(c) for c in cells[:start - lo])
    width = max(1, sum(len(c) for c in cells[start - lo:end - lo]))
    return ["  " + left + "".join(cells) + right, "  " + " " * pad + "^" * width]


def _cell(c: str, ascii: bool) -> str:
    """How one input character is shown on the quoted line: itself, or a space for a tab or a
    newline, "?" for what cannot be printed; in ASCII, its ASCII spelling."""
    if not c.isprintable():
        return " " if c.isspace() else "?"
    return to_ascii(c) if ascii else c


# ASCII spellings of the characters matdiff prints, for a terminal that cannot show them
_ASCII = {"ᵀ": "^T", "⁻": "^-", "¹": "1", "²": "^2", "³": "^3", "⁰": "0", "⁴": "4", "⁵": "5",
          "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9", "×": "x", "·": "*", "⋅": "*", "⊙": "(*)", "∘": "(*)",
          "⊗": "(x)", "‖": "||", "−": "-", "→": "->", "←": "<-", "↦": "|->", "∇": "grad", "∂": "d",
          "Σ": "Sum", "∑": "Sum", "√": "sqrt", "⟨": "<", "⟩": ">", "…": "...", "⋯": "...", "≤": "<=",
          "≥": ">=", "≠": "!=", "≈": "~", "✓": "ok", "✗": "X", "½": "1/2", "𝟙": "1", "∞": "inf",
          "ₘ": "_m", "ₙ": "_n", "₁": "_1", "₂": "_2", "⊤": "^T", "σ": "sigma", "λ": "lambda",
          "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "η": "eta", "θ": "theta",
          "μ": "mu", "ρ": "rho", "τ": "tau", "φ": "phi", "ω": "omega", "Λ": "Lambda", "Ω": "Omega"}


def to_ascii(text: str) -> str:
    """`text` in ASCII: matdiff's own symbols by their spellings (ᵀ as ^T, ‖ as ||, × as x),
    anything else as a \\u escape."""
    if text.isascii():
        return text
    out = []
    for c in text:
        if c.isascii():
            out.append(c)
        elif c in _ASCII:
            out.append(_ASCII[c])
        else:
            out.append(c.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out)


class ParseError(MatdiffError):
    """The text is not an expression of matdiff's language."""
    kind = "parse error"


class UnknownFunctionError(ParseError):
    """A name used as a function is not a known function."""


class ShapeError(MatdiffError):
    """Dimensions do not fit, or a result has the wrong shape for what was asked."""
    kind = "shape error"


class ShapeSpecError(MatdiffError):
    """A declared shape (`--shape A=n,m` or `shapes=`) could not be read."""
    kind = "shape error"


class AssumptionError(MatdiffError):
    """An `assume` property is unknown or does not fit the symbol's shape."""
    kind = "assumption error"


class DerivationError(MatdiffError):
    """What was asked cannot be derived (unknown variable, non-scalar gradient, ...)."""
    kind = "derivation error"


class DomainError(MatdiffError):
    """Inputs outside an operation's domain (log of a negative number, singular matrix, ...)."""
    kind = "domain error"


class VerificationError(MatdiffError):
    """A derived result failed its finite-difference check."""
    kind = "verification error"
