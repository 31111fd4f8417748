"""The generic scheduler daemon: one loop per schedule kind, any number of replicas."""
