"""Editing a deferred interaction's original response, with hikari's REST-only client.

When an interaction's work outlives the answer budget, the endpoint answers "thinking..." (a
deferred response) and, once the work is done, replaces it with the real answer through
``PATCH {DISCORD_API_BASE}/webhooks/{application_id}/{token}/messages/@original``. That route is
authorised by the interaction token itself (valid 15 minutes), so no bot token is needed.

hikari is imported inside the function (see :mod:`gamesched.discord_rest`): an API that never
defers does not pay its import time.
"""

from __future__ import annotations

from typing import Any

from gamesched import discord_rest, errors

TIMEOUT_SECONDS = 10.0
#: Discord's button styles by name (the only components our answers carry).
_STYLES = {1: "PRIMARY", 2: "SECONDARY", 3: "SUCCESS", 4: "DANGER"}


async def edit_original(
    *,
    api_base: str,
    application_id: str,
    token: str,
    data: dict[str, Any],
    timeout: float = TIMEOUT_SECONDS,
) -> None:
    """Replace the original response's content and buttons with ``data`` (an interaction
    message: ``content`` and action rows of buttons). Raises GameschedError on failure."""
    import hikari

    try:
        async with discord_rest.one_shot(api_base, None, timeout=timeout, max_retries=1) as rest:
            rows = []
            for action_row in data.get("components") or []:
                row = rest.build_message_action_row()
                for button in action_row.get("components") or []:
                    row.add_interactive_button(
                        getattr(
                            hikari.ButtonStyle,
                            _STYLES.get(button.get("style"), "SECONDARY"),
                        ),
                        str(button["custom_id"]),
                        label=str(button.get("label", "")),
                        is_disabled=bool(button.get("disabled", False)),
                    )
                rows.append(row)
            await rest.edit_interaction_response(
                hikari.Snowflake(int(application_id)),
                token,
                str(data.get("content", "")),
                components=rows,
                user_mentions=False,
                role_mentions=False,
                mentions_everyone=False,
            )
    except discord_rest.rest_failures() as exc:
        raise errors.GameschedError(
            f"could not edit the interaction's response ({type(exc).__name__})"
        ) from exc
