"""No tables of its own: roles are Django auth groups (accounts/roles.py).

The module exists so that Django sends this app post_migrate, which syncs the groups.
"""
