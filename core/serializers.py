"""Input serializers that refuse unknown fields and still report every other error of the body."""

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """A body with a field this serializer does not know is a 400 that names the field.

    The known fields are validated too and their errors join the unknown ones, so a typo in
    one field never hides a bad value in another: the client fixes everything in one round.
    """

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors = {name: ["Unknown field."] for name in sorted(set(data) - writable)}
        try:
            value = super().to_internal_value({key: data[key] for key in data if key in writable})
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            errors = {**detail, **errors}
        if errors:
            raise serializers.ValidationError(errors)
        return value
