"""The internal authorization server: django-oauth-toolkit wired to the gateway's models.

validators.py decides which clients get tokens, scopes.py which scopes, tokens.py
what the JWT access token says, server.py wires them into oauthlib and views.py
serves /oauth2/* and the discovery document.
"""
