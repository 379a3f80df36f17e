"""The admin web console under /console/: server-rendered pages over the domain services.

Every view fetches with a staff check, validates a form, calls a service from
<app>/services.py and redirects; the rules themselves live in the models and
services, so the console and the REST API cannot drift apart.
"""
