"""Messages from templates: Jinja2, one file per template and locale (``notify/templates/<locale>/<name>.j2``),
each with a ``subject`` and a ``body`` block.

Templates see the intent's context (``case_id``, ``title``, ``category``, ``occurred_at`` and what the
rule added), plus ``track_url`` (the resident's progress page) and ``case_url`` (the workspace's case
page), and filters for names and local times: ``unitname`` and ``categoryname`` (through the lookup
the composition root passes in), ``clockname``, ``levelname``, ``localtime``, ``localdate``
(Asia/Shanghai). An undefined variable is an error (:class:`TemplateFailure`), never an empty gap in a
message sent to a resident.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates"
LOCALES = ("zh-CN", "en")
CHINA = ZoneInfo("Asia/Shanghai")

CLOCK_NAMES: dict[str, tuple[str, str]] = {
    "accept": ("签收", "accept"),
    "contact": ("响应", "contact"),
    "report_in": ("报到", "report-in"),
    "resolve": ("办结", "resolve"),
    "verify": ("核查", "verify"),
    "callback": ("回访", "callback"),
    "return_review": ("退单审核", "return review"),
    "reply_review": ("审核签发", "reply review"),
    "interim_reply": ("阶段性答复", "interim reply"),
}
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "reminder": ("催办", "Reminder"),
    "supervision": ("督办", "Supervision"),
    "public_notice": ("通报", "Public notice"),
}


class TemplateFailure(Exception):
    """A template is missing or could not be rendered (the message goes to the dead letter)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _local(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value.astimezone(CHINA) if value.tzinfo else value


class Renderer:
    """Renders a template in a locale.

    Args:
        names: unit key or category code → its name (unknown keys stay as they are).
        track_url: the resident progress page (``{case_id}`` is filled in).
        case_url: the workspace's case page (``{case_id}`` is filled in).
        directory: where the templates are (tests point it at a broken one).
    """

    def __init__(
        self,
        names: Callable[[str], str] | Mapping[str, str] | None = None,
        *,
        track_url: str = "/app/track?case={case_id}",
        case_url: str = "/app/cases/{case_id}",
        directory: Path = TEMPLATE_DIR,
    ) -> None:
        if names is None:
            self._name: Callable[[str], str] = lambda key: key
        elif callable(names):
            self._name = names
        else:
            table = dict(names)
            self._name = lambda key: table.get(key, key)
        self.track_url = track_url
        self.case_url = case_url
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain-text messages
            keep_trailing_newline=False,
        )

    def _filters(self, locale: str) -> dict[str, Callable[[Any], str]]:
        zh = locale == "zh-CN"

        def pick(table: dict[str, tuple[str, str]], key: Any) -> str:
            pair = table.get(str(key))
            return (pair[0] if zh else pair[1]) if pair else str(key)

        def localtime(value: Any) -> str:
            t = _local(value)
            return t.strftime("%Y-%m-%d %H:%M") if t else str(value)

        def localdate(value: Any) -> str:
            t = _local(value)
            return t.strftime("%Y年%m月%d日" if zh else "%d %b %Y") if t else str(value)

        return {
            "unitname": lambda key: self._name(str(key)),
            "categoryname": lambda key: self._category(str(key)),
            "clockname": lambda key: pick(CLOCK_NAMES, key),
            "levelname": lambda key: pick(LEVEL_NAMES, key),
            "localtime": localtime,
            "localdate": localdate,
        }

    def _category(self, code: str) -> str:
        if not code:
            return ""
        name = self._name(f"category:{code}")
        return code if name == f"category:{code}" else name

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> Rendered:
        """The subject and body of ``template`` in ``locale`` (falls back to zh-CN for an unknown locale)."""
        locale = locale if locale in LOCALES else "zh-CN"
        case_id = str(context.get("case_id", ""))
        values = {
            "track_url": self.track_url.format(case_id=case_id),
            "case_url": self.case_url.format(case_id=case_id),
            **context,
        }
        try:
            env = self.env.overlay()
            env.filters.update(self._filters(locale))
            tpl = env.get_template(f"{locale}/{template}.j2")
            ctx = tpl.new_context(values)
            subject = "".join(tpl.blocks["subject"](ctx)).strip()
            body = "".join(tpl.blocks["body"](ctx)).strip()
        except KeyError as exc:
            raise TemplateFailure(f"template {locale}/{template}: no {exc} block") from exc
        except jinja2.TemplateError as exc:
            raise TemplateFailure(f"template {locale}/{template}: {type(exc).__name__}: {exc}") from exc
        if not subject or not body:
            raise TemplateFailure(f"template {locale}/{template}: empty subject or body")
        return Rendered(subject, body)
