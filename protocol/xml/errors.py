class SepXmlError(ValueError):
    """A 2030.5 body was refused; `reason` is safe to send back to the client."""

    def __init__(self, reason: str, *, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)
