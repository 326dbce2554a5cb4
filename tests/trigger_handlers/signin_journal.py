"""What the sign-in handlers of these tests saw, as a Lambda would send it to its logs:
one JSON line per event, appended to the file the ``COGNATE_SIGNIN_JOURNAL`` environment
variable names (the test server's environment, which handlers inherit); and the tests'
side of it, which reads the lines back."""
import json
import os
from pathlib import Path

VARIABLE = "COGNATE_SIGNIN_JOURNAL"
ROOT = Path(__file__).resolve().parents[2]


def note(event, **more):
    path = os.environ.get(VARIABLE)
    if not path:
        return
    line = {"triggerSource": event["triggerSource"], "userName": event["userName"],
            "userPoolId": event["userPoolId"], "callerContext": event["callerContext"],
            "request": {k: v for k, v in event["request"].items() if k != "password"}, **more}
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(json.dumps(line) + "\n")


def server_env(journal):
    """What a test server needs to run these handlers and keep their journal in ``journal``."""
    return {"PYTHONPATH": str(ROOT), VARIABLE: str(journal)}


def events(journal, pool, source):
    """The events of ``pool``'s trigger source ``source`` written so far, oldest first."""
    path = Path(journal)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    found = [json.loads(line) for line in lines]
    return [e for e in found if e["userPoolId"] == pool and e["triggerSource"] == source]
