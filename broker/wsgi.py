"""WSGI entry point for gunicorn: ``gunicorn -c deploy/gunicorn.conf.py broker.wsgi:app``."""
from . import create_app

app = create_app()
