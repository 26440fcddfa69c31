"""The local reference cluster: real Kubernetes components started as processes on this machine."""
