"""JSON schemas of the custom resources the sandbox renders, written for these
checks from the fields the operators document (a strict subset: unknown
fields are errors, so a typo in a ServiceMonitor fails here, not silently in
the cluster)."""

from __future__ import annotations

from typing import Any

STR: dict[str, Any] = {"type": "string", "minLength": 1}
INT: dict[str, Any] = {"type": "integer"}
LABELS: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
SELECTOR: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": LABELS,
        "matchExpressions": {
            "type": "array",
            "items": {"type": "object", "required": ["key", "operator"]},
        },
    },
}
METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": STR, "namespace": STR, "labels": LABELS, "annotations": LABELS},
}
DURATION: dict[str, Any] = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h))+$"}


def _resource(api_versions: list[str], kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"enum": api_versions},
            "kind": {"const": kind},
            "metadata": METADATA,
            "spec": spec,
        },
    }


PARENT_REF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": STR,
        "namespace": STR,
        "sectionName": STR,
        "group": {"type": "string"},
        "kind": STR,
        "port": INT,
    },
}
BACKEND_REF = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": STR,
        "namespace": STR,
        "port": INT,
        "weight": INT,
        "group": {"type": "string"},
        "kind": STR,
    },
}

SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("monitoring.coreos.com", "ServiceMonitor"): _resource(
        ["monitoring.coreos.com/v1"],
        "ServiceMonitor",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": STR,
                "selector": SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": STR},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": STR,
                            "targetPort": {"type": ["string", "integer"]},
                            "path": STR,
                            "scheme": {"enum": ["http", "https"]},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    ),
    ("monitoring.coreos.com", "PrometheusRule"): _resource(
        ["monitoring.coreos.com/v1"],
        "PrometheusRule",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": STR,
                            "interval": DURATION,
                            "limit": INT,
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "additionalProperties": False,
                                    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                                    "properties": {
                                        "alert": STR,
                                        "record": STR,
                                        "expr": {"type": ["string", "integer"]},
                                        "for": DURATION,
                                        "keep_firing_for": DURATION,
                                        "labels": LABELS,
                                        "annotations": LABELS,
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    ),
    ("gateway.networking.k8s.io", "HTTPRoute"): _resource(
        ["gateway.networking.k8s.io/v1"],
        "HTTPRoute",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["parentRefs", "rules"],
            "properties": {
                "parentRefs": {"type": "array", "minItems": 1, "items": PARENT_REF},
                "hostnames": {"type": "array", "items": STR},
                "rules": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "matches": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "path": {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "required": ["value"],
                                            "properties": {
                                                "type": {
                                                    "enum": [
                                                        "Exact",
                                                        "PathPrefix",
                                                        "RegularExpression",
                                                    ]
                                                },
                                                "value": {"type": "string", "pattern": "^/"},
                                            },
                                        }
                                    },
                                },
                            },
                            "backendRefs": {"type": "array", "minItems": 1, "items": BACKEND_REF},
                        },
                    },
                },
            },
        },
    ),
    ("gateway.networking.k8s.io", "Gateway"): _resource(
        ["gateway.networking.k8s.io/v1"],
        "Gateway",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["gatewayClassName", "listeners"],
            "properties": {
                "gatewayClassName": STR,
                "listeners": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "protocol", "port"],
                        "properties": {
                            "name": STR,
                            "protocol": {"enum": ["HTTP", "HTTPS", "TLS", "TCP", "UDP"]},
                            "port": INT,
                            "hostname": STR,
                            "allowedRoutes": {
                                "type": "object",
                                "properties": {
                                    "namespaces": {
                                        "type": "object",
                                        "properties": {
                                            "from": {"enum": ["All", "Same", "Selector"]}
                                        },
                                    }
                                },
                            },
                        },
                    },
                },
            },
        },
    ),
    ("gateway.networking.k8s.io", "GatewayClass"): _resource(
        ["gateway.networking.k8s.io/v1"],
        "GatewayClass",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["controllerName"],
            "properties": {
                "controllerName": STR,
                "description": STR,
                "parametersRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["group", "kind", "name"],
                    "properties": {"group": STR, "kind": STR, "name": STR, "namespace": STR},
                },
            },
        },
    ),
    ("gateway.envoyproxy.io", "EnvoyProxy"): _resource(
        ["gateway.envoyproxy.io/v1alpha1"],
        "EnvoyProxy",
        {
            "type": "object",
            "required": ["provider"],
            "properties": {
                "provider": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {"const": "Kubernetes"},
                        "kubernetes": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "envoyDeployment": {"type": "object"},
                                "envoyService": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                                        "annotations": LABELS,
                                        "labels": LABELS,
                                        "patch": {
                                            "type": "object",
                                            "required": ["value"],
                                            "properties": {
                                                "type": {"enum": ["StrategicMerge", "JSONMerge"]},
                                                "value": {"type": "object"},
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    ),
}
