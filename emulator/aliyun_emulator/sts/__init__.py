"""The sts product of the emulator."""
