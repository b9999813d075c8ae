"""The address form; its rules are the address service's, so every problem shows at once."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, ValidationError

from portal.forms import strip
from portal.services import addresses
from portal.services.addresses import AddressInput
from portal.services.errors import ValidationFailed


def _checked(rule, *args):
    """Run a service field rule; its refusal becomes the field's error."""
    try:
        return rule(*args)
    except ValidationFailed as err:
        raise ValidationError(err.message) from None


class AddressForm(FlaskForm):
    # Declared first: the phone and postcode rules depend on the country.
    country = SelectField(_l("Country / region"), validate_choice=False)
    recipient_name = StringField(_l("Recipient name"), filters=[strip])
    phone = StringField(_l("Phone"), filters=[strip])
    region = StringField(_l("State / province (optional)"), filters=[strip])
    city = StringField(_l("City"), filters=[strip])
    postcode = StringField(_l("Postcode"), filters=[strip])
    line1 = StringField(_l("Street address"), filters=[strip])
    line2 = StringField(_l("Apartment, suite, building (optional)"), filters=[strip])
    tax_id = StringField(_l("Recipient ID / tax number (optional)"), filters=[strip])

    def __init__(self, *args, countries: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", _l("Choose a country"))] + [
            SelectChoice(code, name) for code, name in countries
        ]
        self.allowed_countries = frozenset(code for code, _name in countries)

    def _country_ok(self) -> bool:
        return bool(self.country.data) and not self.country.errors

    def validate_country(self, field) -> None:
        _checked(addresses.check_country, field.data, self.allowed_countries)

    def validate_recipient_name(self, field) -> None:
        _checked(addresses.clean_recipient_name, field.data)

    def validate_phone(self, field) -> None:
        if self._country_ok():
            _checked(addresses.parse_phone, field.data, self.country.data)
        elif not field.data:
            raise ValidationError(_l("Enter the recipient's phone number."))

    def validate_region(self, field) -> None:
        _checked(addresses.clean_region, field.data)

    def validate_city(self, field) -> None:
        _checked(addresses.clean_city, field.data)

    def validate_postcode(self, field) -> None:
        if self._country_ok():
            _checked(addresses.parse_postcode, field.data, self.country.data)

    def validate_line1(self, field) -> None:
        _checked(addresses.clean_line1, field.data)

    def validate_line2(self, field) -> None:
        _checked(addresses.clean_line2, field.data)

    def validate_tax_id(self, field) -> None:
        _checked(addresses.parse_tax_id, field.data)

    def to_input(self) -> AddressInput:
        return AddressInput(
            recipient_name=self.recipient_name.data or "",
            phone=self.phone.data or "",
            country=self.country.data or "",
            line1=self.line1.data or "",
            city=self.city.data or "",
            region=self.region.data or "",
            postcode=self.postcode.data or "",
            line2=self.line2.data or "",
            tax_id=self.tax_id.data or "",
        )
