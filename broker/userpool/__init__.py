"""User pool behaviour: sign-up, sign-in, confirmation, recovery, password policy."""
