"""Shared by every layer and free of Airflow: settings, connection fields, endpoints, errors, retries."""
