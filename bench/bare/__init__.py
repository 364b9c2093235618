"""The bare baseline of bench/api_contacts.py: one DRF ModelViewSet, nothing else.

A table of the same shape as contacts_contact (same columns, indexes and unique constraint),
served by a ModelViewSet with DRF's own limit/offset pagination, no authentication, no
throttle, no middleware. bench/api_contacts.py serves it the same way as the project
(gunicorn, same database kind, same connection settings) in the same run and prints the
project's figures as a ratio of this app's, so a loaded machine slows both alike.
"""
