"""Stage 5, the outbox: the ledger's events delivered to the apps that asked for them.

`sender.Sender` is one endpoint's stage: it holds the endpoint's cursor (one host at a
time, under a lease), takes the events after it in order, hands each to its endpoint
and moves the cursor past it once the endpoint took it — so every event goes at least
once, in order, and a crash, a kill -9 or a reboot costs a repeat, never an event.
Endpoints: `webhook.Webhook` (signed POSTs, the Standard Webhooks spec: `signing`) and
`command.CommandHook` (`on_upload`: a program run without a shell). `heartbeat` fetches
a URL while the daemon is healthy. Nothing here writes SQL or knows the daemon: it
reads and moves cursors through the ledger's `Outbox` contract.
"""

from ossync.outbox.command import CommandHook
from ossync.outbox.heartbeat import Heartbeat
from ossync.outbox.sender import Endpoint, Sender, Tally
from ossync.outbox.webhook import Webhook

__all__ = ["CommandHook", "Endpoint", "Heartbeat", "Sender", "Tally", "Webhook"]
