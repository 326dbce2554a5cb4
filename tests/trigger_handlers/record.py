"""A journal of what the handlers of these tests got, as a Lambda would send it to its logs:
each event (the password UserMigration gets left out) as one JSON line, with what the
handler adds, appended to the file the ``COGNATE_TRIGGER_JOURNAL`` environment variable
names (the test server's environment, which handlers inherit; without it nothing is
noted). Tests read it back (tests/flows/triggers_common.py, ``events``)."""
import json
import os

VARIABLE = "COGNATE_TRIGGER_JOURNAL"


def note(event, **more):
    path = os.environ.get(VARIABLE)
    if not path:
        return
    request = {k: v for k, v in (event.get("request") or {}).items() if k != "password"}
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(json.dumps({**event, "request": request, **more}) + "\n")


def lambda_handler(event, context):
    note(event)
    return event
