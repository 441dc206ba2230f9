"""The one kind of failure a module reports as a message, not a traceback."""


class ToolkitError(Exception):
    """A failure with a reason for the operator; ``details`` join the module's result."""

    details = {}

    def __init__(self, message, **details):
        super().__init__(message)
        if details:
            self.details = details
