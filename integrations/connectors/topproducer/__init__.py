"""TopProducer connector (kind "topproducer"): the REST connector with TopProducer's preset."""

from integrations.connectors.topproducer.connector import TopProducerConnector

__all__ = ["TopProducerConnector"]
