"""The local sandbox: an embedded AWS emulator, the deployed stack, and ECS played by a harness."""
