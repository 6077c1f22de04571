"""The desktop window (Qt only; talks to the command and query services, never to aiokafka)."""
