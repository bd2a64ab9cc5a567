"""Label and field selectors, parsed and matched as the API server does."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present or value is None or not re.fullmatch(r"-?\d+", value):
            return False
        bound = int(self.values[0])
        return int(value) > bound if self.op == "gt" else int(value) < bound


_TOKEN = re.compile(r"\s*(notin\b|in\b|!=|==|=|!|\(|\)|,|>|<|[^\s!=,()<>]+)")


def parse_labels(text: str) -> list[Requirement]:
    """Parse a label selector: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a, a>1, a<3."""
    tokens = _tokens(text)
    reqs: list[Requirement] = []
    pos = 0

    def need(kind: str) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise SelectorError(f"unable to parse requirement: expected {kind} at end of {text!r}")
        tok = tokens[pos]
        pos += 1
        return tok

    while pos < len(tokens):
        negate = tokens[pos] == "!"
        if negate:
            pos += 1
        key = need("a key")
        if not re.fullmatch(_KEY, key) or len(key.rpartition("/")[2]) > 63:
            raise SelectorError(f"unable to parse requirement: invalid label key {key!r}")
        if negate:
            reqs.append(Requirement(key, "!"))
        elif pos >= len(tokens) or tokens[pos] == ",":
            reqs.append(Requirement(key, "exists"))
        else:
            op = need("an operator")
            if op in ("=", "==", "!="):
                # an empty value is allowed: "app=" selects labels whose value is ""
                value = "" if pos >= len(tokens) or tokens[pos] == "," else _value(need("a value"), op)
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
            elif op in (">", "<"):
                bound = need("an integer")
                if not re.fullmatch(r"-?\d+", bound):
                    raise SelectorError(f"unable to parse requirement: for {op!r}, {bound!r} is not an integer")
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (bound,)))
            elif op in ("in", "notin"):
                if need("'('") != "(":
                    raise SelectorError(f"unable to parse requirement: expected '(' after {op!r}")
                values: list[str] = []
                while True:
                    tok = need("a value or ')'")
                    if tok == ")":
                        break
                    if tok == ",":
                        continue
                    values.append(_value(tok, op))
                if not values and op == "in":
                    raise SelectorError("unable to parse requirement: for 'in', set must be non-empty")
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise SelectorError(f"unable to parse requirement: found {op!r}, expected an operator")
        if pos < len(tokens):
            if tokens[pos] != ",":
                raise SelectorError(f"unable to parse requirement: found {tokens[pos]!r}, expected ','")
            pos += 1
            if pos >= len(tokens):
                raise SelectorError("unable to parse requirement: trailing ','")
    return reqs


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise SelectorError(f"unable to parse requirement: unexpected {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


def _value(tok: str, op: str) -> str:
    if tok in ("(", ")", ",", "=", "==", "!=", "!", "in", "notin") or not re.fullmatch(_VALUE, tok) or len(tok) > 63:
        raise SelectorError(f"unable to parse requirement: invalid label value {tok!r} after {op!r}")
    return tok


def label_matcher(text: str | None) -> Callable[[Mapping[str, str]], bool]:
    reqs = parse_labels(text) if text else []
    return lambda labels: all(r.matches(labels) for r in reqs)


def parse_fields(text: str, supported: tuple[str, ...]) -> list[tuple[str, bool, str]]:
    """Parse a field selector into (field, equal, value) triples: a=b, a==b, a!=b."""
    out = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        match = re.fullmatch(r"([^=!]+?)(!=|==|=)(.*)", term)
        if not match:
            raise SelectorError(f"invalid selector: {text!r}; can't understand {term!r}")
        field, op, value = match.groups()
        if field not in supported:
            raise SelectorError(f"field label not supported: {field}")
        out.append((field, op != "!=", value.replace("\\", "")))
    return out


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, escaped = [], "", False
    for ch in text:
        if escaped:
            cur += "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts
