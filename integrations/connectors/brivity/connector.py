"""Brivity (real-estate CRM) as a preset of the REST connector.

No public API reference exists (see presets.py and docs/connectors.md): the preset is the
project's best reading of seed 004, and a connection adjusts any of it in its settings.
"""

from integrations.connectors.brivity.presets import BRIVITY_BASE_URL, BRIVITY_SETTINGS
from integrations.connectors.rest.config import preset_serializer
from integrations.connectors.rest.connector import RestConnector


class BrivityConnector(RestConnector):
    kind = "brivity"
    display_name = "Brivity"
    default_base_url = BRIVITY_BASE_URL
    credential_fields = ("api_token",)
    default_settings = BRIVITY_SETTINGS
    default_field_mapping = dict(BRIVITY_SETTINGS["field_maps"]["contacts"])
    config_serializer = preset_serializer("BrivitySettingsSerializer", BRIVITY_SETTINGS)
