"""Extra CLI commands, one module each; heavy imports stay inside the command functions."""
