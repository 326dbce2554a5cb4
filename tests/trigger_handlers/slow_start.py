"""A handler whose module takes long to import (a heavy SDK, a model loaded at init), as
some Lambda functions' cold starts do."""
import os
import time

time.sleep(float(os.environ.get("COGNATE_TEST_IMPORT_SECONDS", "2")))


def pid(event, context):
    event["response"]["pid"] = os.getpid()
    return event
