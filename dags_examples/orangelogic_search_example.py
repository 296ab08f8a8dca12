from airflow_provider_orangelogic.dags import search_example_dag
dag = search_example_dag()
