"""One module per function, so each function's package carries only what its own handler reaches.

``common`` is what every handler shares (the warm instance, the webhook front door, the timer runner); each function
module adds only its own work. ``ram_delegate.app`` gathers the five for the local host and the tests.
"""
