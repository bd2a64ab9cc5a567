"""python3 -m kubectl_perf.audit: how the Helm chart's CronJob runs the audit from the webhook's image."""

import sys

from . import main

sys.exit(main())
