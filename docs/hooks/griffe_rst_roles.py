"""A Griffe extension: imgbench's reStructuredText docstrings, as the Markdown that mkdocstrings renders.

imgbench's docstrings are reST (CONTRIBUTING.md): roles such as ``:class:`Dataset```,
``:func:`~imgbench.data.load_dataset```, ``:mod:`.tokens``` and ``:math:`y = x W^\\top + b```, ``.. math::``
directives and ``::`` literal blocks.  mkdocstrings renders docstrings as Markdown, where these would show as
literal text, so this extension rewrites every docstring once the package is loaded:

- ``:math:`...``` becomes ``\\( ... \\)`` and a ``.. math::`` directive (its argument and the lines indented
  under it) a display block ``\\[ ... \\]``, which ``pymdownx.arithmatex`` marks for KaTeX;
- a cross-reference role becomes an *optional* mkdocs-autorefs link: the name is resolved in the docstring's scope
  (relative names with leading dots against the module, the rest through Griffe's scoping); the link appears when
  the target is rendered somewhere in the site and is plain code otherwise, so a docstring never breaks the build.
  ``~`` shows the last part of the name only, as in Sphinx;
- a paragraph ending in ``::`` ends in ``:`` and the indented block after it becomes a fenced code block;
- an asterisk inside a word (``k*k``, ``N*Ho*Wo``) stays an asterisk: reST reads emphasis only after a space,
  Markdown also inside words.

Loaded by mkdocstrings-python through ``extensions:`` in ``mkdocs.yml``.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?P<role>math|class|func|meth|attr|data|mod|exc|obj):`(?P<text>[^`]+)`")
MATH_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. math::(?P<first>.*)$")
# What the inline pass leaves alone or replaces whole: display maths, fenced blocks, ``literals`` and roles.
PROTECTED = re.compile(r"\\\[.*?\\\]|```.*?```|``.+?``|" + ROLE.pattern, re.DOTALL)
WORD_ASTERISK = re.compile(r"(?<=\w)\*(?=\w)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def display_math(text: str) -> str:
    """Every ``.. math::`` directive of ``text`` as a ``\\[ ... \\]`` block with blank lines around it."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        match = MATH_DIRECTIVE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, body = match["indent"], [match["first"].strip()]
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(indent)):
            body.append(lines[i].strip())
            i += 1
        formula = " ".join(part for part in body if part)
        out.extend(["", f"{indent}\\[", f"{indent}{formula}", f"{indent}\\]", ""])
    return "\n".join(out)


def literal_blocks(text: str) -> str:
    """Every reST literal block (a paragraph ending in ``::``, then an indented block) as a fenced code block."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.rstrip().endswith("::") or line.lstrip().startswith(".."):
            out.append(line)
            continue
        head = line.rstrip()[:-2].rstrip()
        if head.strip():
            out.append(head + ":")
        indent = _indent(line)
        start = i
        while i < len(lines) and not lines[i].strip():
            i += 1
        block = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent):
            block.append(lines[i])
            i += 1
        if not block:  # not a literal block after all
            i = start
            continue
        while block and not block[-1].strip():
            block.pop()
        depth = min(_indent(b) for b in block if b.strip())
        fence = " " * indent + "```"
        out.extend(["", fence + "text", *(" " * indent + b[depth:] for b in block), fence, ""])
    return "\n".join(out)


def _module_of(obj: griffe.Object) -> griffe.Object:
    while not obj.is_module and obj.parent is not None:
        obj = obj.parent
    return obj


def _target(obj: griffe.Object, name: str) -> str:
    """The full dotted path that ``name``, written in ``obj``'s docstring, refers to (a best guess if unresolved)."""
    if name.startswith("imgbench"):
        return name
    if name.startswith("."):
        # ".model.BUILDERS" is relative to the docstring's package, like a relative import.
        package = _module_of(obj)
        if not package.is_package and package.parent is not None:
            package = package.parent
        dots = len(name) - len(name.lstrip("."))
        for _ in range(dots - 1):
            package = package.parent or package
        return f"{package.path}.{name.lstrip('.')}"
    head, _, rest = name.partition(".")
    try:
        resolved = obj.resolve(head)
    except griffe.NameResolutionError:
        return f"{_module_of(obj).path}.{name}"
    return f"{resolved}.{rest}" if rest else resolved


def _replace(obj: griffe.Object, match: re.Match[str]) -> str:
    role, text = match["role"], match["text"]
    if role == "math":
        return f"\\({text}\\)"
    short = text.startswith("~")
    name = text.lstrip("~")
    shown = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
    if role in ("func", "meth"):
        shown += "()"
    identifier = html.escape(_target(obj, name), quote=True)
    return f'<autoref identifier="{identifier}" optional><code>{html.escape(shown)}</code></autoref>'


def markdown(obj: griffe.Object, text: str) -> str:
    """The reST docstring ``text`` of ``obj`` as Markdown."""
    text = display_math(literal_blocks(text))
    out, end = [], 0
    for match in PROTECTED.finditer(text):
        out.append(WORD_ASTERISK.sub(r"\\*", text[end : match.start()]))
        out.append(_replace(obj, match) if match["role"] else match[0])
        end = match.end()
    out.append(WORD_ASTERISK.sub(r"\\*", text[end:]))
    return "".join(out)


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = markdown(obj, obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member)


class RstRoles(griffe.Extension):
    """Rewrites every docstring of a package once it is fully loaded (names resolve only then)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _rewrite(pkg)
