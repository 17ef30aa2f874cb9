"""The Telegram channel: python-telegram-bot inside our aiohttp app, streaming replies, Stars payments."""
