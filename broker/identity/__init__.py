"""Cognito's identity pools: identities for users of Cognate's user pools, of Google,
Facebook, OpenID Connect and SAML providers, of the developer's own logins, and for guests,
exchanged for temporary AWS-style credentials from an STS.

- :mod:`.pools`: the pools' settings, roles and principal-tag maps in Cognito's shapes.
"""
