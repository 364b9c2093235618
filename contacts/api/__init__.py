"""The contacts and events API: serializers and viewsets (thin: parse, call a service, render)."""
