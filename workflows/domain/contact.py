"""The intake rule for a resident's phone number: one rule, one home.

A resident's contact phone must reach the resident for the first contact (响应) and the callback
(回访), so it is a Chinese mobile or landline number:

* mobile: ``1[3-9]`` and 9 more digits, optionally after ``+86``, ``0086`` or ``86``; single
  spaces or hyphens may separate digits (``138 1234 5678``, ``+86-138-1234-5678``);
* landline: the area code (``0`` and 2–3 digits, possibly in brackets; or, internationally,
  ``+86`` and the code without its ``0``), then the local number of 7–8 digits starting with 2–9,
  optionally separated by a single space or hyphen (``010-62345678``, ``(0471) 6234567``,
  ``+86 10 6234 5678``),
  and an optional extension of 1–6 digits after ``-``, ``转`` or ``ext`` (``010-62345678-123``,
  ``010-62345678转123``).

Five- and six-digit service numbers (12345, 95598, …) are refused: they are lines of the hotline
itself or of utilities, not the resident's, and a callback to them cannot reach the person.

The rule is checked on the command (:class:`workflows.domain.commands.OpenCase`), not on the
published event :class:`events.schemas.ResidentContact`, so events recorded before the rule stay
readable.
"""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

#: The rule a refused phone breaks: the error's type, so the API answers ``422 body.contact.phone``
#: with rule ``contact.phone`` and the CLI prints ``contact.phone: <message>``.
PHONE_RULE = "contact.phone"
PHONE_MESSAGE = "not a Chinese mobile (1xx xxxx xxxx) or landline (0xx-xxxxxxxx) number"

_SEP = r"[ -]?"
_COUNTRY = rf"(?:\+|00)?86{_SEP}"  # +86, 0086 or 86
_MOBILE = re.compile(rf"(?:{_COUNTRY})?1[3-9](?:{_SEP}\d){{9}}", re.ASCII)
# the area code: 0 and 2-3 digits, in brackets or not; written internationally without its 0
_AREA = rf"(?:0\d{{2,3}}|\(0\d{{2,3}}\)|{_COUNTRY}[1-9]\d{{1,2}})"
_LANDLINE = re.compile(
    rf"{_AREA}{_SEP}[2-9](?:{_SEP}\d){{6,7}}(?:(?:-|转|{_SEP}ext\.?{_SEP})\d{{1,6}})?", re.IGNORECASE | re.ASCII
)


def is_mobile(phone: str) -> bool:
    return _MOBILE.fullmatch(phone.strip()) is not None


def is_landline(phone: str) -> bool:
    return _LANDLINE.fullmatch(phone.strip()) is not None


def is_valid_phone(phone: str) -> bool:
    """Whether ``phone`` is a Chinese mobile or landline number (see the module's rule)."""
    return is_mobile(phone) or is_landline(phone)


def check_phone(phone: str | None) -> str | None:
    """``phone`` with surrounding blanks removed, or ``None``.

    Raises:
        ValueError: a ``PydanticCustomError`` of type :data:`PHONE_RULE` with :data:`PHONE_MESSAGE`
            when the number breaks the rule.
    """
    if phone is None:
        return None
    if not is_valid_phone(phone):
        raise PydanticCustomError(PHONE_RULE, PHONE_MESSAGE)
    return phone.strip()
