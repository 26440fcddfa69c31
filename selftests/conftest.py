"""Settings shared by every self-test."""

from __future__ import annotations

import os

from kubeproof.localcluster.layout import cache_dir

# pytester gives inner runs a temporary HOME; they must still find the build cache, since an
# xdist controller starts the (local) target before any worker runs.
os.environ.setdefault("KUBEPROOF_CACHE", str(cache_dir()))
