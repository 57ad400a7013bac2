"""``--set KEY VALUE``: the one parser of config overrides, typed by the defaults.

Every tool that takes config overrides (the four trainers, the quick start and
the evaluation modes) reads ``--set`` pairs with ``parse(pairs, defaults)``.
Keys are the original key names; a nested config (FCR-alphaGAN's
``easydict``) is addressed with dotted keys (``CONST.N_VOX``). A value is read
as a Python literal and must have the type of the key's default:

* ``bool``: ``True`` / ``False`` (also ``true`` / ``false``);
* ``int``: an integer (not a bool, not ``2.0``);
* ``float``: a number (an integer is stored as float);
* ``str``: the text as given (quotes around it are optional);
* ``list`` / ``tuple``: a list or tuple literal, each element of the type of
  the default's elements when those share one type (nested lists alike);
* ``None``: any literal.

An unknown key is an ``OverrideError`` naming the closest known keys; a value
of the wrong type one naming the key, the value and the expected type. Both
are usage errors (one line, exit 2). Ranges and relations between keys are
the config's own business (``create_gqn_config``, ``gen_config``,
``make_config``, ``check_config``).
"""
import ast
import difflib

from data_provider.cli import UsageError


class OverrideError(UsageError):
    """An unknown key or a value of the wrong type in ``--set``."""


def flatten(config, prefix=""):
    """``{"NET": {"DIM": 1}}`` -> ``{"NET.DIM": 1}`` (mappings nest, everything else is a leaf)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def closest_keys(key, known, n=3):
    """The known keys nearest to ``key`` (case-insensitive), best first."""
    by_lower = {k.lower(): k for k in known}
    found = difflib.get_close_matches(key.lower(), list(by_lower), n=n, cutoff=0.5)
    if not found:  # a dotted key: match its last part
        tail = key.rsplit(".", 1)[-1].lower()
        found = [k for k in by_lower if k.rsplit(".", 1)[-1] == tail][:n]
    return [by_lower[k] for k in found]


def describe(default):
    """The expected type of a key with this default, in words."""
    if default is None:
        return "any literal"
    if isinstance(default, bool):
        return "True or False"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "a string"
    if isinstance(default, (list, tuple)):
        kind = "list" if isinstance(default, list) else "tuple"
        element = _element_default(default)
        return f"a {kind}" + (f" of {_plural(describe(element))}" if element is not None else "")
    return f"a {type(default).__name__}"


def _plural(words):
    return {"an integer": "integers", "a number": "numbers", "a string": "strings",
            "True or False": "True / False values"}.get(words, words.replace("a list", "lists")
                                                         .replace("a tuple", "tuples"))


def _element_default(default):
    """One element standing for all of ``default``'s, when they share a type; else None."""
    if not default:
        return None
    kinds = {_kind(v) for v in default}
    if len(kinds) != 1:
        return None
    return default[0]


def _kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "int" if isinstance(value, int) else "float"
    if isinstance(value, (list, tuple)):
        return ("list", _kind(value[0]) if value else None)
    return type(value).__name__


def _read(text):
    if not isinstance(text, str):
        return text
    if text in ("true", "false"):
        return text == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def coerce(value, default):
    """``value`` as the type of ``default``; raises ``TypeError`` when it is not one."""
    if default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            element = _element_default(default)
            items = [coerce(v, element) for v in value] if element is not None else list(value)
            return type(default)(items)
    elif isinstance(value, type(default)):
        return value
    raise TypeError(describe(default))


def parse(pairs, defaults, *, what="config", flag="--set"):
    """``[(key, text), ...]`` -> ``{key: value}`` typed by ``defaults`` (a possibly nested mapping).

    ``what`` names the config in errors (``"GQNConfig"``, ``"AIR network config"``).
    Later pairs win over earlier ones, as repeated flags do.
    """
    known = flatten(dict(defaults))
    values = {}
    for key, text in pairs:
        if key not in known:
            near = closest_keys(key, known)
            hint = f"; closest: {', '.join(near)}" if near else \
                f"; known keys: {', '.join(sorted(known)[:12])}{' ...' if len(known) > 12 else ''}"
            raise OverrideError(f"{flag} {key}: unknown {what} key{hint}")
        default = known[key]
        value = text if isinstance(default, str) and isinstance(text, str) \
            and text[:1] not in ("'", '"') else _read(text)
        try:
            values[key] = coerce(value, default)
        except TypeError:
            raise OverrideError(f"{flag} {key} {text}: expected {describe(default)} "
                                f"(default {default!r})") from None
    return values


def nest(values):
    """``{"NET.DIM": 1}`` -> ``{"NET": {"DIM": 1}}`` (the inverse of ``flatten``)."""
    nested = {}
    for key, value in values.items():
        node = nested
        *sections, leaf = key.split(".")
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = value
    return nested
