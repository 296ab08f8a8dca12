from airflow_provider_orangelogic.dags import search_to_storage_dag
dag = search_to_storage_dag()
