"""``python -m airflow_provider_orangelogic status``: see airflow_provider_orangelogic.status."""

import sys

from airflow_provider_orangelogic.status import main

sys.exit(main())
