"""Cognito's unauthenticated account operations: sign-up, confirmation, password reset."""
from __future__ import annotations
