"""The kms product of the emulator: Secrets Manager's GetSecretValue over secrets a test or the local stack puts."""
