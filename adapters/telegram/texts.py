"""What the bot says: command list, help, and the short messages users see."""
from __future__ import annotations

COMMANDS = [
    ("start", "Start, or link an account with a code"),
    ("help", "How to use this bot"),
    ("new", "Start a new conversation"),
    ("role", "Choose a role for this chat"),
    ("balance", "Tokens, storage and purchases"),
    ("buy", "Buy tokens with Telegram Stars"),
    ("link", "Link this account with another channel"),
    ("cancel", "Stop the answer being written"),
]



def commands(stars: bool) -> list[tuple[str, str]]:
    """The command menu; /buy only when Telegram Stars payments are on."""
    return [(name, about) for name, about in COMMANDS if stars or name != "buy"]


def help_text(stars: bool = True) -> str:
    return "\n".join([
        "Write a message and I answer it; in a group, mention me or reply to my message.",
        "",
        *(f"/{name} - {about}" for name, about in commands(stars)),
        "",
        "/role NAME sets a role directly; /link CODE joins the account that made the code.",
    ])


HELP = help_text()

STOPPED = "\n\n⏹ Stopped."
QUOTA = "You are out of tokens for this answer. Buy more with /buy."
BUY_BUTTON = "Buy tokens"
FAILED = "Sorry, something went wrong on our side. Please try again."
TELEGRAM_FAILED = "Telegram did not accept the answer; please try again."
TEXT_ONLY = "I can only read text messages."
EMPTY_MENTION = "Yes? Write your question after the mention."
NOTHING_TO_CANCEL = "Nothing to stop: no answer is being written."
NOT_YOUR_ANSWER = "Only the person who asked can stop this answer."
NOT_YOUR_FEEDBACK = "Only the person who asked can rate this answer."
THANKS = "Thanks for the feedback!"
EXPIRED_BUTTON = "This button has expired."
NO_PRODUCTS = "Nothing is for sale right now."
NO_STARS = "Buying in Telegram is not available here."


def welcome(first_name: str, balance: int, new: bool, help: str = HELP) -> str:
    grant = f" You have {balance:,} free tokens to start." if new else f" Your balance is {balance:,} tokens."
    return f"Hi {first_name}! I am an AI assistant: just write to me.{grant}\n\n{help}"


def storage(used: int, limit: int) -> str:
    return f"{used / 1048576:.1f} MB of {limit / 1048576:.1f} MB"
