from airflow_provider_orangelogic.dags import storage_to_orangelogic_dag
dag = storage_to_orangelogic_dag()
