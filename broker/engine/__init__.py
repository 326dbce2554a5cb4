"""The protocol-neutral sign-in engine: Cognito's auth flows and challenges."""
