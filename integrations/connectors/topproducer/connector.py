"""TopProducer (Top Producer CRM / Top Producer X) as a preset of the REST connector.

No public API documentation exists (see presets.py and docs/connectors.md): the preset is
the project's best reading of seed 004, and a connection adjusts any of it in its settings.
Deals are TopProducer's transactions (settings.endpoints.deals = /transactions).
"""

from integrations.connectors.rest.config import preset_serializer
from integrations.connectors.rest.connector import RestConnector
from integrations.connectors.topproducer.presets import TOPPRODUCER_BASE_URL, TOPPRODUCER_SETTINGS


class TopProducerConnector(RestConnector):
    kind = "topproducer"
    display_name = "TopProducer"
    default_base_url = TOPPRODUCER_BASE_URL
    credential_fields = ("client_id", "client_secret")
    default_settings = TOPPRODUCER_SETTINGS
    default_field_mapping = dict(TOPPRODUCER_SETTINGS["field_maps"]["contacts"])
    config_serializer = preset_serializer("TopProducerSettingsSerializer", TOPPRODUCER_SETTINGS)
    object_type_names = {"deals": "transactions"}
