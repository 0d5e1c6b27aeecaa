"""Constants and helpers shared by the DAGs in dags/examples/.

Anything that is the same for every environment can live here. Anything that
differs between environments (the role, the S3 bucket) stays in the DAG file,
so that a DAG never borrows a value belonging to another environment.
"""

# The docker image the example tasks run, as defined in the image repo.
# A pinned release: never "latest", so a rerun uses exactly the same code.
REPO_NAME = "airflow-example"
IMAGE_TAG = "v0.0.1"

# Shared by every example DAG: the UI shows this as the DAG owner.
DEFAULT_ARGS = {
    "depends_on_past": False,
    "email_on_failure": False,
    "owner": "examples",
}


def make_env_vars(text: str, outpath: str) -> dict:
    """Return the environment variables that make the example image write `text` to `outpath`.

    A new dict is returned on each call: the operator adds its AWS defaults to the
    dict it is given, so tasks must not share one.
    """
    return {
        "AWS_METADATA_SERVICE_TIMEOUT": "60",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "5",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "RUN": "write",
        "TEXT": text,
        "OUTPATH": outpath,
    }
