"""IANA time zone names, and only those.

`zoneinfo.available_timezones()` lists whatever the server's tz directory holds, `localtime`, `posixrules` and
`Factory` included, and `ZoneInfo` also opens paths. The list comes from the tzdata package instead (the IANA
zones and links, the same on every machine), minus `Factory`, a placeholder that is no place's time.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from pydantic import AfterValidator

# Read once at import (outside any workflow sandbox); membership is all validation needs.
IANA_TIME_ZONES: frozenset[str] = frozenset(resources.files("tzdata").joinpath("zones").read_text().split()) - {
    "Factory"
}


def is_iana_zone(name: str) -> bool:
    return name in IANA_TIME_ZONES


def check_time_zone(name: str) -> str:
    if not is_iana_zone(name):
        raise ValueError(f"unknown IANA time zone {name!r} (use a zone name such as 'Europe/London' or 'UTC')")
    return name


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]
