"""Calling the Orange Logic API with a bearer token: the authenticated session and paged search.

Free of Airflow imports; the hook in ``airflow_provider_orangelogic.hooks`` wires it to a connection.
"""
