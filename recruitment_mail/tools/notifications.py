# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html).
"""Client actions the Outbox answers with."""


def success_notification(message, next_action=None, sticky=False):
    """The client action that shows ``message`` and then runs ``next_action``
    (by default, reloads the current view)."""
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {
            "type": "success",
            "message": message,
            "sticky": sticky,
            "next": next_action or {"type": "ir.actions.client", "tag": "soft_reload"},
        },
    }
