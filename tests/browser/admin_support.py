"""Shared steps of the console's browser tests: sign in with the admin key, open a user, answer confirm dialogs."""
from __future__ import annotations

ADMIN_KEY = "admin-key"


async def admin_sign_in(web_app, page, next_path: str = "/admin/users") -> None:
    await web_app.goto(page, next_path)
    await page.wait_for_url("**/admin/login**")
    await page.fill("#key", ADMIN_KEY)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url("**" + next_path.split("?")[0] + "**")


async def open_user(web_app, page, query: str) -> None:
    """Search the users page and open the one found."""
    await web_app.goto(page, "/admin/users")
    await page.fill("#user-search input[name=q]", query)
    await page.click("#user-search button")
    await page.wait_for_url("**q=**")
    await page.click("#users tbody tr a")
    await page.wait_for_selector("#user-facts")


def accept_dialogs(page) -> list[str]:
    """Confirm every confirm() the console asks; returns the questions asked."""
    asked: list[str] = []

    async def accept(dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return asked
