"""A custom sender as AWS documents it: it gets the code and the user's attributes, sends
the message itself (here: notes it), and returns nothing."""
from tests.trigger_handlers.record import note


def lambda_handler(event, context):
    note(event)
