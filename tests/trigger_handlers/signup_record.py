"""Handlers that note every event they get, one JSON line each, in the file the server's
environment names in COGNATE_TRIGGER_LOG (a Lambda's environment variable), so that tests
read exactly what Cognate sent."""
import json
import os


def write(event):
    with open(os.environ["COGNATE_TRIGGER_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(event) + "\n")


def lambda_handler(event, context):
    write(event)
    return event


def fail(event, context):
    write(event)
    raise Exception("The welcome service is down")
