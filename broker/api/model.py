"""AWS's own description of the APIs, read from botocore's service models
(``botocore/data/<service>/<version>/service-2.json``), and the checks of a request's input
against it: the JSON types (a value of the wrong type is a ``SerializationException``, as
the AWS JSON deserializer answers) and the constraints (required members, lengths, ranges,
patterns, enums: ``InvalidParameterException`` listing each problem the way AWS does,
"1 validation error detected: Value at 'username' failed to satisfy constraint: Member
must have length less than or equal to 128"). Members the model does not know are ignored,
as AWS ignores them; a JSON ``null`` is an absent member.

    op = operation_model("cognito-idp", "SignUp")
    validate(op, {"ClientId": "abc", "Username": "alice"})  # or AwsError

Patterns are Java regular expressions: ``\\w`` and ``\\d`` are ASCII there, so they are
spelled out before the pattern is compiled with the ``regex`` module (which knows
``\\p{L}``-style classes); a Java pattern matches the whole value.
"""
from __future__ import annotations

import base64
import binascii
import functools
from typing import Any

import regex
from botocore.loaders import Loader
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from .errors import AwsError, serialization

#: Java's int and long: numbers outside them do not deserialize.
_RANGES = {"integer": (-2 ** 31, 2 ** 31 - 1), "long": (-2 ** 63, 2 ** 63 - 1)}
#: How much of a refused value an error message repeats.
_ECHO = 256
#: Shapes whose model pattern Cognito itself does not apply: a custom domain
#: (``auth.example.com``) is a ``DomainType``, whose pattern allows only a prefix domain.
UNCHECKED_PATTERNS = frozenset({"DomainType"})
#: Members whose model pattern Cognate replaces with its own check: a trigger's target is
#: ``python:module:function`` or a URL, not a Lambda ARN (:mod:`broker.triggers.settings`).
UNCHECKED_PATHS = ("lambdaConfig.",)
_JAVA_CLASSES = {"w": ("A-Za-z0-9_", "[A-Za-z0-9_]"), "d": ("0-9", "[0-9]"), "W": (None, "[^A-Za-z0-9_]"),
                 "D": (None, "[^0-9]")}


@functools.cache
def service_model(service: str) -> ServiceModel:
    """The newest model of ``service`` botocore ships (``cognito-idp``, ``cognito-identity``)."""
    return ServiceModel(Loader().load_service_model(service, "service-2"), service_name=service)


@functools.cache
def operation_model(service: str, name: str) -> OperationModel:
    """The operation ``name`` of ``service``; ``KeyError`` when the model has none."""
    try:
        return service_model(service).operation_model(name)
    except OperationNotFoundError:
        raise KeyError(f"{service} has no operation {name!r}") from None


def enum_values(service: str, shape_name: str) -> tuple[str, ...]:
    """The values a string shape allows, e.g. ``ExplicitAuthFlowsType``."""
    return tuple(service_model(service).shape_for(shape_name).enum)


def validate(op: OperationModel, params: dict[str, Any]) -> None:
    """:class:`AwsError` when ``params`` (a decoded JSON object) is not valid input of ``op``."""
    problems: list[str] = []
    if op.input_shape is not None:
        _structure(op.input_shape, params, "", problems)
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected"
        raise AwsError("InvalidParameterException", f"{count}: {'; '.join(problems)}")


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        _structure(shape, _typed(value, dict, "Start of structure or map"), path, problems)
    elif kind == "list":
        items = _typed(value, list, "Start of list")
        _length(shape, len(items), value, path, problems)
        for i, item in enumerate(items, 1):
            if item is not None:
                _check(shape.member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        entries = _typed(value, dict, "Start of structure or map")
        _length(shape, len(entries), value, path, problems)
        for key, item in entries.items():
            _check(shape.key, key, f"{path}.key", problems)
            if item is not None:
                _check(shape.value, item, f"{path}.value", problems)
    else:
        _scalar(shape, value, path, problems)


def _structure(shape: Shape, value: dict[str, Any], path: str, problems: list[str]) -> None:
    for name, member in shape.members.items():
        where = f"{path}.{_camel(name)}" if path else _camel(name)
        if value.get(name) is None:
            if name in shape.required_members:
                problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        else:
            _check(member, value[name], where, problems)


def _scalar(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind in ("string", "blob"):
        text = _typed(value, str, _json_kind(value))
        if kind == "blob":
            try:
                base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise serialization("Base64 encoded value could not be decoded") from None
            return
        _length(shape, len(text), text, path, problems)
        pattern = shape.metadata.get("pattern") if shape.name not in UNCHECKED_PATTERNS \
            and not path.startswith(UNCHECKED_PATHS) else None
        if pattern and not _compiled(pattern).fullmatch(text):
            problems.append(_fail(shape, text, path, f"Member must satisfy regular expression pattern: {pattern}"))
        if shape.enum and text not in shape.enum:
            problems.append(_fail(shape, text, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]"))
    elif kind == "boolean":
        _typed(value, bool, _json_kind(value))
    elif kind in ("integer", "long"):
        low, high = _RANGES[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise serialization(f"{_json_kind(value)} can not be converted to {'an Integer' if kind == 'integer' else 'a Long'}")
        _range(shape, value, path, problems)
    elif kind in ("double", "float", "timestamp"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise serialization(f"{_json_kind(value)} can not be converted to a {kind.capitalize()}")
        _range(shape, value, path, problems)


def _typed(value: Any, kind: type, found: str) -> Any:
    if isinstance(value, kind):
        return value
    if isinstance(value, dict):
        raise serialization("Start of structure or map found where not expected.")
    if isinstance(value, list):
        raise serialization("Start of list found where not expected.")
    raise serialization(f"{_json_kind(value)} can not be converted to {_java_type(kind)}")


def _length(shape: Shape, size: int, value: Any, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None and size > high:
        problems.append(_fail(shape, value, path, f"Member must have length less than or equal to {high}"))
    if low is not None and size < low:
        problems.append(_fail(shape, value, path, f"Member must have length greater than or equal to {low}"))


def _range(shape: Shape, value: float, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if high is not None and value > high:
        problems.append(_fail(shape, value, path, f"Member must have value less than or equal to {high}"))
    if low is not None and value < low:
        problems.append(_fail(shape, value, path, f"Member must have value greater than or equal to {low}"))


def _fail(shape: Shape, value: Any, path: str, rule: str) -> str:
    """AWS's sentence; a sensitive value (passwords, codes, secrets) is never repeated."""
    if shape.metadata.get("sensitive") or isinstance(value, (dict, list)):
        return f"Value at '{path}' failed to satisfy constraint: {rule}"
    shown = str(value)
    shown = shown if len(shown) <= _ECHO else shown[:_ECHO] + "..."
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {rule}"


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(java_pattern(pattern))


def java_pattern(pattern: str) -> str:
    """A Java pattern in the ``regex`` module's syntax: Java's ``\\w``, ``\\d`` (and their
    negations outside brackets) are ASCII-only, Python's are Unicode."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            code = pattern[i + 1]
            inside, outside = _JAVA_CLASSES.get(code, (None, None))
            replacement = inside if in_class else outside
            out.append(replacement if replacement is not None else pattern[i:i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class and pattern[i - 1] != "[":
            in_class = False
        out.append(char)
        i += 1
    return "".join(out)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


def _java_type(kind: type) -> str:
    return {str: "String", bool: "Boolean", dict: "Structure", list: "List"}.get(kind, kind.__name__)
