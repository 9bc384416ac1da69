"""GBNF grammars that make the embedded model answer between tags.

When the optimizer asks for an answer between tags, a grammar makes the
model produce exactly one well-placed pair, which small models otherwise
often miss. llama.cpp reads the grammar from the request's ``grammar`` field.
"""

from __future__ import annotations


def _literal(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ord(ch) < 128:
            out.append(ch)
        else:
            out.append(f"\\U{ord(ch):08X}")
    return '"' + "".join(out) + '"'


def _class_char(ch: str) -> str:
    if ch in "\\]-^[":
        return "\\" + ch
    if ch.isprintable() and ord(ch) < 128:
        return ch
    return f"\\U{ord(ch):08X}"


def tags_grammar(start: str, end: str) -> str | None:
    """GBNF for: free text, ``start``, content, ``end``, where neither tag occurs elsewhere.

    "Text containing neither tag" is written as a small automaton over the
    tags' shared prefixes, one rule per prefix. That is exact and simple when
    both tags begin with the same character that never reappears inside them
    (``<A>``/``</A>``): a mismatch then restarts at that character or at
    nothing. Other tag pairs get no grammar (None) and rely on the caller's
    re-asking.
    """
    first = start[:1]
    if not first or start == end or not end.startswith(first):
        return None
    if first in start[1:] or first in end[1:] or start.startswith(end) or end.startswith(start):
        return None
    tags = (start, end)
    prefixes = sorted({t[:k] for t in tags for k in range(1, len(t))}, key=lambda p: (len(p), p))
    names = {p: f"free{i + 1}" for i, p in enumerate(prefixes)}
    names[""] = "free0"
    rules = []
    for prefix in ["", *prefixes]:
        nexts = sorted({t[len(prefix)] for t in tags if t.startswith(prefix) and len(t) > len(prefix)})
        options = []
        for ch in nexts:
            if prefix + ch not in tags:  # completing a tag is the one move left out
                options.append(f"{_literal(ch)} {names[prefix + ch]}")
        excluded = "".join(_class_char(c) for c in sorted({*nexts, first}))
        options.append(f"[^{excluded}] free0")
        if first not in nexts:
            options.append(f"{_literal(first)} {names[first]}")
        rules.append(f"{names[prefix]} ::= ( {' | '.join(options)} )?")
    root = f"root ::= free0 {_literal(start)} free0 {_literal(end)}"
    return "\n".join([root, *rules]) + "\n"
