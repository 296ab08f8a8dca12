from airflow_provider_orangelogic.dags import token_exchange_dag
dag = token_exchange_dag()
