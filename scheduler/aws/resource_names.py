"""Where the scheduler learns its bucket and table names.

Deployments keep the names in SSM parameters (--job_bucket_name_key,
--job_table_name_key name the parameters, not the resources), so one
scheduler build serves every stage without flags that differ per stage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler.aws.aws_errors import translate_aws_errors
from scheduler.domain.errors import FailedPrecondition

if TYPE_CHECKING:
    from mypy_boto3_ssm.client import SSMClient


def resolve_resource_names(
    ssm_client: SSMClient, bucket_key: str, table_key: str
) -> tuple[str, str]:
    """(bucket, table), read from the two SSM parameters in one call.

    Raises FailedPrecondition naming every missing or empty parameter (and the
    flag that chose it), Unavailable when SSM cannot be reached.
    """
    flags = {bucket_key: "--job_bucket_name_key", table_key: "--job_table_name_key"}
    with translate_aws_errors("SSM"):
        response = ssm_client.get_parameters(Names=list(flags), WithDecryption=True)
    values = {p.get("Name", ""): p.get("Value", "").strip() for p in response.get("Parameters", [])}
    missing = [name for name in flags if not values.get(name)]
    if missing:
        raise FailedPrecondition(
            "missing or empty SSM parameter: "
            + ", ".join(f"{name!r} (named by {flags[name]})" for name in missing)
            + "; create it holding the resource name, or point the flag at the right parameter"
        )
    return values[bucket_key], values[table_key]
