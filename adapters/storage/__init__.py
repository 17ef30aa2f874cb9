"""Storage adapter: tortoise-orm models and the repositories that implement core's ports."""
