from airflow_provider_orangelogic.dags import orangelogic_to_storage_dag

dag = orangelogic_to_storage_dag()
