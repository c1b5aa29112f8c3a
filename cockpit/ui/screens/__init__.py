"""The cockpit's screens besides the panes. They read the app through cockpit.ui.host.Host
and ask it for things with the messages defined there; only the app imports them."""
