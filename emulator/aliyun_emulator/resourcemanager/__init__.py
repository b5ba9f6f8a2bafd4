"""The resourcemanager product of the emulator."""
