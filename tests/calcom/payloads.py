"""Cal.com deliveries shaped exactly like the example in Cal.com's webhook documentation, signed like Cal.com.

`documented_example()` is that example (docs/developing/guides/automation/webhooks.mdx) with a fresh booking uid
and booker email, so each test has its own booking; `delivery()` makes the variant for each trigger.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import httpx

from billflow.services.calcom import SIGNATURE_HEADER, sign

DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "triggerEvent": "BOOKING_CREATED",
    "createdAt": "2023-05-24T09:30:00.538Z",
    "payload": {
        "type": "60min",
        "title": "60min between Pro Example and John Doe",
        "description": "",
        "additionalNotes": "",
        "customInputs": {},
        "startTime": "2023-05-25T09:30:00Z",
        "endTime": "2023-05-25T10:30:00Z",
        "organizer": {
            "id": 5,
            "name": "Pro Example",
            "email": "pro@example.com",
            "username": "pro",
            "timeZone": "Asia/Kolkata",
            "language": {"locale": "en"},
            "timeFormat": "h:mma",
        },
        "responses": {
            "name": {"label": "your_name", "value": "John Doe"},
            "email": {"label": "email_address", "value": "john.doe@example.com"},
            "location": {"label": "location", "value": {"optionValue": "", "value": "inPerson"}},
            "notes": {"label": "additional_notes"},
            "guests": {"label": "additional_guests"},
            "rescheduleReason": {"label": "reschedule_reason"},
        },
        "userFieldsResponses": {},
        "attendees": [
            {
                "email": "john.doe@example.com",
                "name": "John Doe",
                "timeZone": "Asia/Kolkata",
                "language": {"locale": "en"},
            }
        ],
        "location": "Calcom HQ",
        "destinationCalendar": {
            "id": 10,
            "integration": "apple_calendar",
            "externalId": "https://caldav.icloud.com/1234567/calendars/XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX/",
            "userId": 5,
            "eventTypeId": None,
            "credentialId": 1,
        },
        "hideCalendarNotes": False,
        "requiresConfirmation": None,
        "eventTypeId": 7,
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": "bFJeNb2uX8ANpT3JL5EfXw",
        "appsStatus": [
            {
                "appName": "Apple Calendar",
                "type": "apple_calendar",
                "success": 1,
                "failures": 0,
                "errors": [],
                "warnings": [],
            }
        ],
        "eventTitle": "60min",
        "eventDescription": "",
        "price": 0,
        "currency": "usd",
        "length": 60,
        "bookingId": 91,
        "metadata": {},
        "status": "ACCEPTED",
    },
}


def new_uid() -> str:
    return uuid.uuid4().hex[:22]


def documented_example(*, event_type: str | None = None, time_zone: str = "Asia/Kolkata") -> dict[str, Any]:
    """The documented BOOKING_CREATED example with its own uid, booker and (optionally) event type slug."""
    body = copy.deepcopy(DOCUMENTED_EXAMPLE)
    payload = body["payload"]
    suffix = uuid.uuid4().hex[:8]
    payload["uid"] = new_uid()
    payload["bookingId"] = int(suffix, 16) % 10**6
    email = f"john.doe.{suffix}@example.com"
    payload["attendees"][0].update(email=email, timeZone=time_zone)
    payload["responses"]["email"]["value"] = email
    if event_type is not None:
        payload["type"] = event_type
        payload["eventTitle"] = event_type
        payload["eventTypeId"] = int(suffix, 16) % 10**7 + 1000  # unknown to the catalog by id: the slug decides
    return body


def delivery(base: dict[str, Any], trigger: str, **payload: Any) -> dict[str, Any]:
    """The same booking under another trigger, with payload fields changed (e.g. uid, startTime, status)."""
    body = copy.deepcopy(base)
    body["triggerEvent"] = trigger
    body["payload"].update(payload)
    return body


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def post(
    http: httpx.AsyncClient,
    integration: str,
    secret: str | None,
    body: dict[str, Any] | bytes,
    *,
    signed: bytes | None = None,
) -> httpx.Response:
    """POST like Cal.com does: the raw body, X-Cal-Signature-256 = hex HMAC-SHA256(secret, body).

    `signed`: sign these bytes instead of the body sent (a tampered delivery).
    """
    content = body if isinstance(body, bytes) else raw(body)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, signed if signed is not None else content)
    return await http.post(f"/v1/integrations/calcom/{integration}/webhook", content=content, headers=headers)
