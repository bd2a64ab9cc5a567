"""python3 -m kubectl_perf.rightsize: how the Helm chart's CronJob runs rightsize from the webhook's image."""

import sys

from . import main

sys.exit(main())
