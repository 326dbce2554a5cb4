"""What the sign-in handlers of these tests saw, as a Lambda would send it to its logs:
one JSON line per event, appended to the file the ``COGNATE_SIGNIN_JOURNAL`` environment
variable names (the test server's environment, which handlers inherit)."""
import json
import os


def note(event, **more):
    path = os.environ.get("COGNATE_SIGNIN_JOURNAL")
    if not path:
        return
    line = {"triggerSource": event["triggerSource"], "userName": event["userName"],
            "userPoolId": event["userPoolId"], "callerContext": event["callerContext"],
            "request": {k: v for k, v in event["request"].items() if k != "password"}, **more}
    with open(path, "a", encoding="utf-8") as journal:
        journal.write(json.dumps(line) + "\n")
