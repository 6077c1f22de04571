"""The read side: project the event log into a local SQLite view and read it. No Qt here."""
