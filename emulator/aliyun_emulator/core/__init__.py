"""The emulator's small core: clock, identities, requests, errors, signing, routing, authorization."""
