"""Trigger handlers written as AWS documents Cognito's Lambda triggers in Python
(``def handler(event, context): ... return event``), run by the test servers through
``python:tests.trigger_handlers.<module>:<function>`` targets."""
