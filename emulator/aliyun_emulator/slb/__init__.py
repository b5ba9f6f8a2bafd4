"""The slb product of the emulator."""
