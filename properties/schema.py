"""drf-spectacular post-processing for the property sync paths."""


def path_parameter_enums(result, generator, request, public):
    """`crm` and `sync_type` in the property sync paths are enums: clients (and schemathesis) see the
    choices, and the views still answer 404 for anything else."""
    from integrations import registry
    from integrations.connectors.base import Capability
    from properties.crm import SYNC_TYPES

    property_crms = sorted(
        kind
        for kind, connector_class in registry.connectors().items()
        if Capability.SYNC_PROPERTIES in connector_class.capabilities
    )
    enums = {"/properties/sync/": {"crm": property_crms, "sync_type": list(SYNC_TYPES)}}
    for path, item in result.get("paths", {}).items():
        for marker, choices in enums.items():
            if marker not in path:
                continue
            for operation in item.values():
                for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                    if parameter.get("in") == "path" and parameter.get("name") in choices:
                        parameter["schema"] = {"type": "string", "enum": choices[parameter["name"]]}
    return result
