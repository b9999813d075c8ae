"""Domain errors carry a user-facing message (lazily translated) and, optionally, the form field."""

from collections.abc import Mapping


class DomainError(Exception):
    """A business rule refused the act; nothing was written."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """An input is not acceptable (wrong format, taken, unknown code)."""


class FieldErrors(ValidationFailed):
    """Several fields of one form are not acceptable; `errors` maps each bad field to its
    message (the first one is also `field` and `message`)."""

    def __init__(self, errors: Mapping[str, object]):
        field, message = next(iter(errors.items()))
        super().__init__(message, field)
        self.errors = dict(errors)


class ShortOfMoney(DomainError):
    """The balance does not cover a payment; `shortfall_fen` says by how much."""

    def __init__(self, message, shortfall_fen: int):
        super().__init__(message)
        self.shortfall_fen = shortfall_fen


class LoginRefused(DomainError):
    """Wrong credentials, or too many attempts; never says which account exists."""

    def __init__(self, message, retry_after: int = 0):
        super().__init__(message, field="identifier")
        self.retry_after = retry_after
