"""Cognito-compatible branding CSS, parsed and re-written from what was understood.

Cognito accepts CSS for a fixed set of classes and a set of properties
(https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-app-ui-customization.html).
The same stylesheet works here unchanged. Anything that could reach another origin or run
code is refused with a message naming it: at-rules (``@import``, ``@font-face``),
``url()``, ``expression()``, ``behavior``, ``-moz-binding``, escapes, markup. The stored CSS
is our own serialisation of the parsed rules, never the uploaded text.

>>> sanitize(".submitButton-customizable { background-color: #1a73e8; }")
'.submitButton-customizable {\\n  background-color: #1a73e8;\\n}\\n'
"""
from __future__ import annotations

import re

from ..errors import InvalidInput

MAX_CSS_BYTES = 128 * 1024
CLASSES = frozenset({
    "background-customizable", "banner-customizable", "errorMessage-customizable", "idpButton-customizable",
    "idpButton-customizable:hover", "idpDescription-customizable", "inputField-customizable",
    "inputField-customizable:focus", "label-customizable", "legalText-customizable", "logo-customizable",
    "passwordCheck-valid-customizable", "passwordCheck-notValid-customizable", "redirect-customizable",
    "socialButton-customizable", "submitButton-customizable", "submitButton-customizable:hover",
    "textDescription-customizable",
})
PSEUDO = frozenset({"hover", "focus", "focus-visible", "active", "visited", "disabled", "placeholder"})
PROPERTIES = frozenset({
    "background", "background-color", "border", "border-bottom", "border-color", "border-left", "border-radius",
    "border-right", "border-style", "border-top", "border-width", "box-shadow", "color", "display", "font",
    "font-family", "font-size", "font-style", "font-weight", "height", "letter-spacing", "line-height", "margin",
    "margin-bottom", "margin-left", "margin-right", "margin-top", "max-height", "max-width", "min-height",
    "min-width", "opacity", "outline", "outline-color", "outline-offset", "outline-style", "outline-width",
    "padding", "padding-bottom", "padding-left", "padding-right", "padding-top", "text-align",
    "text-decoration", "text-shadow", "text-transform", "transition", "visibility", "width",
})
FORBIDDEN = [
    ("@", "at-rules such as @import are not allowed"),
    ("\\", "escapes are not allowed"),
    ("<", "markup is not allowed in CSS"),
    (">", "child selectors are not allowed"),
    ("url(", "url() is not allowed: upload the logo with --logo"),
    ("expression", "expression() is not allowed"),
    ("behavior", "behavior is not allowed"),
    ("-moz-binding", "-moz-binding is not allowed"),
    ("javascript:", "javascript: is not allowed"),
    ("image-set", "image-set() is not allowed"),
]
SELECTOR = re.compile(r"^\.([A-Za-z][\w-]*-customizable)(?::([a-z-]+))?$")
VALUE = re.compile(r"^[#\w\s.,%()+\-/!'\"]*$")


def sanitize(text: str) -> str:
    """The normalised stylesheet, or :class:`InvalidInput` naming the first problem."""
    if len(text.encode()) > MAX_CSS_BYTES:
        raise InvalidInput(f"CSS is larger than {MAX_CSS_BYTES // 1024} KB")
    body = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    lowered = body.lower()
    for needle, message in FORBIDDEN:
        if needle in lowered:
            raise InvalidInput(f"CSS refused: {message}")
    if "/*" in body or "*/" in body:
        raise InvalidInput("CSS refused: an unterminated comment")
    rules = []
    rest = body
    while rest.strip():
        match = re.match(r"\s*([^{}]+)\{([^{}]*)\}", rest)
        if not match:
            raise InvalidInput("CSS refused: it is not a list of `selector { property: value; }` rules")
        rules.append(_rule(match.group(1), match.group(2)))
        rest = rest[match.end():]
    return "".join(rules)


def _rule(selectors: str, block: str) -> str:
    names = [s.strip() for s in selectors.split(",")]
    for name in names:
        match = SELECTOR.match(name)
        if not match or match.group(1) not in {c.split(":")[0] for c in CLASSES}:
            raise InvalidInput(f"CSS refused: selector {name!r} is not one of the customizable classes")
        if match.group(2) and match.group(2) not in PSEUDO:
            raise InvalidInput(f"CSS refused: pseudo-class :{match.group(2)} is not allowed")
    declarations = []
    for item in block.split(";"):
        if not item.strip():
            continue
        prop, sep, value = item.partition(":")
        prop, value = prop.strip().lower(), " ".join(value.split())
        if not sep or prop not in PROPERTIES:
            raise InvalidInput(f"CSS refused: property {prop!r} is not allowed")
        if not value or not VALUE.match(value) or len(value) > 512:
            raise InvalidInput(f"CSS refused: the value of {prop} is not allowed")
        declarations.append(f"  {prop}: {value};\n")
    return f"{', '.join(names)} {{\n{''.join(declarations)}}}\n"
