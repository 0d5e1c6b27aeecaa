from airflow.models import DAG

dag = DAG(dag_id="hostile.syntax_error"  # expect: DAG001
