"""One-shot calls (`fn exec`, `fn invoke`): compile the jail, run the call."""
