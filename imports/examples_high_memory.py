"""Toleration and node affinity that put a task on a high-memory node.

Pass both to the operator together with startup_timeout_seconds=600, e.g.:

    from imports.examples_high_memory import affinity, tolerations

    task = BasicKubernetesPodOperator(
        ...,
        # Increase startup time to give time for node creation
        startup_timeout_seconds=600,
        tolerations=tolerations,
        affinity=affinity,
    )
"""

# Allows the pod to be scheduled on a high-memory node (those nodes repel
# every pod that does not tolerate them).
tolerations = [
    {
        "key": "high-memory",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    }
]

# Requires the pod to be scheduled on a high-memory node (and nowhere else).
affinity = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {
                    "matchExpressions": [
                        {
                            "key": "high-memory",
                            "operator": "In",
                            "values": [
                                "true",
                            ]
                        }
                    ]
                }
            ]
        }
    }
}
