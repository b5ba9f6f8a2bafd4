"""The ram product of the emulator."""
