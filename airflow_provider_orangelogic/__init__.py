"""Apache Airflow provider for the Orange Logic (OrangeDAM) API.

Kept import-free on purpose: Airflow imports this package while discovering providers, and
that must stay cheap.
"""

__version__ = "0.1.0"
