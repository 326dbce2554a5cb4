"""A custom sender as AWS documents it: it gets the code and the user's attributes, sends
the message itself (here: notes it), and returns nothing."""
from tests.trigger_handlers.signup_record import write


def lambda_handler(event, context):
    write(event)
