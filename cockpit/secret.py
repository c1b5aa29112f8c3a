"""A string that never shows itself: API tokens travel as Secret so that a repr, a log line,
a traceback's locals or a journal entry prints '***' instead of the token."""

from __future__ import annotations

import re

# Every secret this process has held, so text about to be written where people look (a
# crash log, a message) can be scrubbed of them even when it never saw the Secret object.
_SEEN: set[str] = set()
_MIN_SCRUBBED = 4  # shorter values would scrub ordinary words
# The PVE header form people paste (PVEAPIToken=USER@REALM!TOKENID=SECRET) and HTTP
# credentials, whoever's they are.
_CREDENTIALS = re.compile(
    r"(PVEAPIToken[= ]+[^\s=!]+![^\s=]+=|[^\s=!'\"]+@[^\s=!'\"]+![^\s='\"]+=)[^\s'\",;]+"
    r"|((?:Authorization|Cookie|X-Auth[\w-]*)['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """`text` with every known secret, pasted token and credential header replaced by ***."""
    for value in sorted(_SEEN, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= _MIN_SCRUBBED:
            _SEEN.add(value)

    def reveal(self) -> str:
        """The token itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))
