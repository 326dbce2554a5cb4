"""Cognito's Lambda triggers, run as unchanged Python handlers or as signed webhooks.

- :mod:`.settings`: a pool's ``LambdaConfig`` and trigger secret;
- :mod:`.invoke`: events in Cognito's shape, fired where Cognito fires them, failures
  mapped to Cognito's errors;
- :mod:`.workers`: Python targets in worker processes with a hard timeout (what runs in
  those processes: :mod:`.worker_process`);
- :mod:`.outcome`: what an invocation came to, whichever the target;
- :mod:`.webhooks`: ``http(s)://`` targets, signed with HMAC-SHA256.
"""
