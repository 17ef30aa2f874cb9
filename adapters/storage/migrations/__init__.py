"""Schema migrations of the tortoise models (tortoise-orm native migrations); `bot makemigrations` writes them."""
