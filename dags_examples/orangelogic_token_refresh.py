from airflow_provider_orangelogic.dags import token_refresh_dag
dag = token_refresh_dag()
