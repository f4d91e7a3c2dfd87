"""Stage 6, service: the daemon that runs the stages as threads, and its health.

`daemon` starts and stops the threads, `health` tells systemd (READY, STATUS,
WATCHDOG pings only while healthy), `sdnotify` speaks the notify protocol,
`logsetup` formats logs for a terminal or the journal and redacts secrets.
"""
