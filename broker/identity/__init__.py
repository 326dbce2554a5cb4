"""Cognito's identity pools: identities for users of Cognate's user pools, of Google,
Facebook, OpenID Connect and SAML providers, of the developer's own logins, and for guests,
exchanged for temporary AWS-style credentials from an STS.

- :mod:`.pools`: the pools' settings, roles and principal-tag maps in Cognito's shapes;
- :mod:`.logins`: the ``Logins`` of a call, each verified with its provider
  (:mod:`.jwt_logins`, :mod:`.upstream_logins`; what they share: :mod:`.providers`);
- :mod:`.identities`: identities resolved, linked and merged as Cognito does it;
  :mod:`.developer` and :mod:`.directory`: the developer's and the admin's operations on them;
- :mod:`.tokens` and :mod:`.keys`: the identities' OpenID tokens and the keys that sign them;
- :mod:`.credentials`: GetCredentialsForIdentity, with :mod:`.roles` (which role) and
  :mod:`.sts` (AssumeRoleWithWebIdentity at the STS), and GetOpenIdToken;
- :mod:`.limits`: how often the public operations may be called;
- :mod:`.errors`: Cognito's refusals.
"""
