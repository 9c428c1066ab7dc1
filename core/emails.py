"""E-mail addresses as hrsync compares them: one Unicode form, one case, and what is wrong with a bad one.

HR systems hand out the same address in different Unicode forms: ``JOSÉ`` typed on a Mac may arrive
decomposed (``E`` + combining acute), which looks identical to the composed form but is another string.
Everything here first brings an address to NFC, so equal-looking addresses are equal strings.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import ValidationError, validate

#: The one character whose lower case is two characters (SpecialCasing.txt): ``İ`` → ``i`` + U+0307 COMBINING
#: DOT ABOVE, which no precomposed letter absorbs. Its lower case in Turkish and everywhere readers expect is
#: ``i``; the combining dot would make ``FİLİZ@`` another address than ``filiz@``.
DOTTED_CAPITAL_I = "\u0130"

_VALIDATE = validate.Email()


def nfc(value: str) -> str:
    """``value`` trimmed and in Unicode's composed form (NFC)."""
    return unicodedata.normalize("NFC", value.strip())


def normalise_email(value: Any) -> str | None:
    """The matching key: NFC, trimmed and lower-cased (``lower``, not ``casefold``: ß must stay ß; ``İ`` → ``i``)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return unicodedata.normalize("NFC", nfc(value).replace(DOTTED_CAPITAL_I, "i").lower())


def email_problem(value: str) -> str | None:
    """What is wrong with the (NFC) address ``value``, in words a person can act on; None when it is valid."""
    try:
        _VALIDATE(value)
        return None
    except ValidationError:
        pass
    if "@" not in value:
        return "it has no @"
    local, domain = value.rsplit("@", 1)
    for part, name in ((local, "before the @"), (domain, "after the @")):
        if not part:
            return f"nothing {name}"
        odd = next((c for c in part if c.isspace() or unicodedata.category(c)[0] in "CMZ"), None)
        if odd is not None:
            return f"the part {name} holds {_describe(odd)}"
    if "@" in local:
        return "it has more than one @"
    if ".." in local or local.startswith(".") or local.endswith("."):
        return "the part before the @ has a misplaced dot"
    if "." not in domain:
        return f"the domain {domain} has no dot"
    bad = next((c for c in local if not (c.isalnum() or c in "-!#$%&'*+/=?^`{}|~_.")), None)
    if bad is not None:
        return f"the part before the @ holds {_describe(bad)}, which an address cannot hold"
    return f"the domain {domain} is not a valid domain name"


def _describe(char: str) -> str:
    """A character named so a reader can find it: its code point and Unicode name (spaces are hard to see)."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'an unnamed character')}"
