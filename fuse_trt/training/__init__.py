"""Self-supervised training of the default blend UNet."""
