from airflow_provider_orangelogic.dags import update_metadata_dag

dag = update_metadata_dag()
